package steps

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// fenceCase builds a situation on real clusters and returns the fence
// step for it.
type fenceCase struct {
	name  string
	setup func(t *testing.T) *Fence
	// wantErr lists what the refusal must say (what is wrong and what to
	// do); empty means the fence holds.
	wantErr []string
	// wantMsg lists what the verdict must say when the fence holds.
	wantMsg    []string
	wantNeeded bool
	// checkMsg, when set, is what --check says instead (any verdict).
	checkMsg []string
}

// TestFenceIntegration runs the fence step against real PostgreSQL 15
// clusters on the local transport: every refusal names the problem and
// what to do, every verdict of the need-check is reported, and the data
// directory is never changed.
func TestFenceIntegration(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the fence tests run PostgreSQL clusters as postgres and need root; skipping")
	}
	cases := []fenceCase{
		{
			name: "diverged after the failover needs a rewind",
			setup: func(t *testing.T) *Fence {
				s := failedOver(t)
				s.PrimarySQL("CREATE TABLE t2 AS SELECT g FROM generate_series(1, 1000) g")
				stop(t, s.Ctx, s.Primary)
				return fenceFor(t, s.Primary, s.Standby)
			},
			wantMsg:    []string{"fenced: old primary stopped", "on timeline 2 of the same system", "rewind needed: servers diverged at ", "on timeline 1"},
			wantNeeded: true,
		},
		{
			name: "stopped before the failover can follow",
			setup: func(t *testing.T) *Fence {
				s := rewindtest.NewScenario(t, pgcluster.Options{})
				s.StartPrimary()
				s.CreateStandby(pgcluster.Options{})
				s.PrimarySQL("CREATE TABLE t1 AS SELECT 1 AS id")
				stop(t, s.Ctx, s.Primary)
				must(t, s.Standby.Promote(s.Ctx))
				must(t, s.Standby.Checkpoint(s.Ctx))
				return fenceFor(t, s.Primary, s.Standby)
			},
			wantMsg: []string{"no rewind needed: the old primary (timeline 1) is behind on the new primary's history and can follow it"},
		},
		{
			name: "a stopped standby on the same timeline needs no rewind",
			setup: func(t *testing.T) *Fence {
				s := rewindtest.NewScenario(t, pgcluster.Options{})
				s.StartPrimary()
				s.CreateStandby(pgcluster.Options{})
				s.PrimarySQL("CREATE TABLE t1 AS SELECT 1 AS id")
				must(t, s.Primary.WaitForCatchup(s.Ctx, s.Standby))
				stop(t, s.Ctx, s.Standby)
				return fenceFor(t, s.Standby, s.Primary)
			},
			wantMsg: []string{"no rewind needed: same timeline 1 and the old primary wrote nothing the new one lacks"},
		},
		{
			name: "diverged on the same timeline is refused",
			setup: func(t *testing.T) *Fence {
				s := rewindtest.NewScenario(t, pgcluster.Options{})
				s.StartPrimary()
				s.PrimarySQL("CREATE TABLE t (id int)")
				stop(t, s.Ctx, s.Primary)
				cp := fileCopy(t, s.Ctx, s.Primary)
				must(t, cp.Start(s.Ctx))
				must(t, cp.Exec(s.Ctx, "postgres", "INSERT INTO t SELECT generate_series(1, 10000)"))
				stop(t, s.Ctx, cp)
				must(t, s.Primary.Start(s.Ctx))
				return fenceFor(t, cp, s.Primary)
			},
			wantErr: []string{"refused: both are on timeline 1 but have diverged", "target server is ahead of the source on timeline 1", "rebuild it from a base backup"},
		},
		{
			name: "the new primary is in recovery",
			setup: func(t *testing.T) *Fence {
				s := rewindtest.NewScenario(t, pgcluster.Options{})
				s.StartPrimary()
				s.CreateStandby(pgcluster.Options{})
				standby2 := rewindtest.NewStandby(t, s.Ctx, s.Primary, pgcluster.Options{Name: "standby2"})
				must(t, standby2.Start(s.Ctx))
				stop(t, s.Ctx, s.Standby)
				return fenceFor(t, s.Standby, standby2)
			},
			wantErr: []string{"the new primary", "is in recovery (a standby, on timeline 1)", "promote it first, or point new_primary at the real primary"},
		},
		{
			name: "the old primary still runs",
			setup: func(t *testing.T) *Fence {
				s := failedOver(t)
				return fenceFor(t, s.Primary, s.Standby)
			},
			wantErr: []string{"the old primary is running on ", "may still accept writes: stop it and fence it first (pg_stop)"},
			// Whether the running server wrote WAL past the divergence
			// (a checkpoint) is up to it: the verdict is not asserted.
			checkMsg: []string{"fenced: old primary still running (a real run refuses unless pg_stop stopped it)", "on timeline 2 of the same system; "},
		},
		{
			name: "the old primary still answers out of recovery at its service address",
			setup: func(t *testing.T) *Fence {
				s := failedOver(t)
				// Another copy of it took over the service address.
				stop(t, s.Ctx, s.Primary)
				cp := fileCopy(t, s.Ctx, s.Primary)
				must(t, cp.Start(s.Ctx))
				f := fenceFor(t, s.Primary, s.Standby)
				f.OldPrimary = cp.ConnString("postgres")
				return f
			},
			wantErr: []string{"the old primary still accepts writes at ", "stop it and fence it first"},
		},
		{
			name: "different systems",
			setup: func(t *testing.T) *Fence {
				s := rewindtest.NewScenario(t, pgcluster.Options{})
				s.StartPrimary()
				other := rewindtest.NewCluster(t, s.Ctx, pgcluster.Options{Name: "other"})
				must(t, other.Start(s.Ctx))
				must(t, other.CreateRewindRole(s.Ctx, rewindtest.RewindRole))
				stop(t, s.Ctx, s.Primary)
				return fenceFor(t, s.Primary, other)
			},
			wantErr: []string{"system identifier", "differs from the new primary's", "not a copy of the same cluster; rebuild it with pg_basebackup"},
		},
		{
			name: "the new primary's history lacks the old primary's timeline",
			setup: func(t *testing.T) *Fence {
				// Pointed the wrong way: the promoted node as the old
				// primary, the demoted one as the new.
				s := failedOver(t)
				stop(t, s.Ctx, s.Standby)
				return fenceFor(t, s.Standby, s.Primary)
			},
			wantErr: []string{"the new primary's timeline history (timelines 1) does not contain the old primary's timeline 2", "not a failover of this cluster"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.setup(t)
			before := controlBytes(t, f.PGData)
			for _, check := range []bool{true, false} {
				out, err := f.Run(context.Background(), target("postgres", check, false))
				wantErr, wantMsg, wantNeeded := tc.wantErr, tc.wantMsg, any(tc.wantNeeded)
				if check && tc.checkMsg != nil {
					wantErr, wantMsg = nil, tc.checkMsg
					wantNeeded, _ = out.Facts["rewind_needed"].(bool)
				}
				if len(wantErr) > 0 {
					if err == nil {
						t.Fatalf("check=%v: fence held (%s); want a refusal saying %q", check, out.Msg, wantErr)
					}
					for _, w := range wantErr {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("check=%v: refusal %q does not say %q", check, err, w)
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("check=%v: %v", check, err)
				}
				if out.Changed {
					t.Errorf("check=%v: the fence reported a change", check)
				}
				for _, w := range wantMsg {
					if !strings.Contains(out.Msg, w) {
						t.Errorf("check=%v: message %q does not say %q", check, out.Msg, w)
					}
				}
				if got := out.Facts["rewind_needed"]; got != wantNeeded {
					t.Errorf("check=%v: rewind_needed %v; want %v", check, got, wantNeeded)
				}
			}
			// A running server writes its own pg_control; a stopped one's
			// must be exactly as it was.
			if after := controlBytes(t, f.PGData); after != before && tc.checkMsg == nil {
				t.Errorf("the fence changed %s/global/pg_control", f.PGData)
			}
		})
	}
}

// failedOver is a primary with a streaming standby that was promoted;
// both run.
func failedOver(t *testing.T) *rewindtest.Scenario {
	t.Helper()
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("CREATE TABLE t1 AS SELECT g AS id FROM generate_series(1, 100) g")
	s.PromoteStandby()
	return s
}

// fenceFor is the fence of old's data directory against new as the new
// primary, reached as the rewind role.
func fenceFor(t *testing.T, old, new *pgcluster.Cluster) *Fence {
	t.Helper()
	return &Fence{PGData: old.DataDir, SourceServer: new.ConnString(rewindtest.RewindRole), EngineBinary: builtEngine(t)}
}

func stop(t *testing.T, ctx context.Context, c *pgcluster.Cluster) {
	t.Helper()
	must(t, c.Stop(ctx, pgcluster.StopFast))
}

// fileCopy is a file copy of the stopped cluster c with its own port and
// socket: a second primary of the same system on the same timeline.
func fileCopy(t *testing.T, ctx context.Context, c *pgcluster.Cluster) *pgcluster.Cluster {
	t.Helper()
	cp := rewindtest.NewCluster(t, ctx, pgcluster.Options{Name: "copy", AllowStreaming: true})
	conf, err := os.ReadFile(cp.ConfPath())
	must(t, err)
	must(t, os.RemoveAll(cp.DataDir))
	if out, err := exec.Command("cp", "-a", c.DataDir, cp.DataDir).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", c.DataDir, err, out)
	}
	must(t, os.WriteFile(cp.ConfPath(), conf, 0o600))
	must(t, pgcluster.HandOver(cp.ConfPath()))
	return cp
}

func controlBytes(t *testing.T, pgdata string) string {
	t.Helper()
	b, err := os.ReadFile(pgdata + "/global/pg_control")
	must(t, err)
	return string(b)
}
