package steps

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// configSplitBrain is an old primary (s.Primary, stopped cleanly) that
// wrote after its standby's promotion, with configuration sets that
// differ: each node's postgresql.conf carries its own identity, the old
// primary has its own pg_hba.conf rule, certificate and a key only it
// has, the new primary a key only it has.
func configSplitBrain(t *testing.T) *rewindtest.Scenario {
	t.Helper()
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int)")
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 100)")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT generate_series(101, 2000)")
	must(t, s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	write := func(c *pgcluster.Cluster, rel, content string) {
		t.Helper()
		must(t, c.WriteFile(rel, []byte(content), 0o600))
	}
	hba, err := os.ReadFile(filepath.Join(s.Primary.DataDir, "pg_hba.conf"))
	must(t, err)
	write(s.Primary, "pg_hba.conf", string(hba)+"# the old primary's own rule\n")
	write(s.Primary, "server.crt", "old primary's certificate\n")
	write(s.Standby, "server.crt", "new primary's certificate\n")
	write(s.Primary, "old.key", "-----BEGIN PRIVATE KEY-----\nold secret\n")
	write(s.Standby, "new.key", "-----BEGIN PRIVATE KEY-----\nnew secret\n")
	return s
}

// configNames are the configuration files configSplitBrain sets up.
var configNames = []string{"new.key", "old.key", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf", "postgresql.conf", "server.crt"}

// readConfigSet reads the named files of dir; a missing one is absent.
func readConfigSet(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range configNames {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			out[n] = b
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return out
}

func sameSet(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestRewindStepKeepsConfig: under --check --diff, keep_config false shows
// the diff of every configuration file the rewind would replace (the
// node's copy before, the new primary's after, private keys only by size
// and hash), keep_config on (the default) shows none and names the kept
// files; --check changes nothing. The rewind then keeps the node's set
// byte for byte, with the shipped engine and with the host's pg_rewind,
// and the node starts with it as a standby of the new primary.
func TestRewindStepKeepsConfig(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"native", "pg_rewind"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			testRewindStepKeepsConfig(t, engine)
		})
	}
}

func testRewindStepKeepsConfig(t *testing.T, engine string) {
	s := configSplitBrain(t)
	ctx := s.Ctx
	bin := builtEngine(t)
	host := &runbook.Host{Name: "pg1", Vars: map[string]any{"remote_dir": remoteDirFor(t)}}
	tgt := func(check bool) *runbook.Target {
		tg := target("postgres", check, check)
		tg.Host = host
		return tg
	}
	source := s.Standby.ConnString(rewindtest.RewindRole)
	off := false
	node := readConfigSet(t, s.Primary.DataDir)
	primary := readConfigSet(t, s.Standby.DataDir)
	wal := walListing(t, s.Primary.DataDir)

	if engine == "native" {
		rewind := &Rewind{PGData: s.Primary.DataDir, SourceServer: source, EngineBinary: bin, KeepConfig: &off}
		out, err := rewind.Run(ctx, tgt(true))
		if err != nil {
			t.Fatalf("rewind --check keep_config false: %v", err)
		}
		got := map[string]runbook.FileDiff{}
		for _, d := range out.Diffs {
			got[filepath.Base(d.Path)] = d
			if filepath.Dir(d.Path) != s.Primary.DataDir {
				t.Errorf("diff path %s is not in %s", d.Path, s.Primary.DataDir)
			}
		}
		wantDiffs := []string{"new.key", "old.key", "pg_hba.conf", "postgresql.conf", "server.crt"}
		var names []string
		for n := range got {
			names = append(names, n)
		}
		slices.Sort(names)
		if !slices.Equal(names, wantDiffs) {
			t.Errorf("--check --diff keep_config false diffs %v, want %v", names, wantDiffs)
		}
		for _, n := range []string{"pg_hba.conf", "postgresql.conf", "server.crt"} {
			if got[n].Before != string(node[n]) || got[n].After != string(primary[n]) {
				t.Errorf("diff of %s: before should be the node's, after the new primary's:\n%+v", n, got[n])
			}
		}
		if k := got["new.key"]; k.Before != "" || !strings.HasPrefix(k.After, "(private key, ") {
			t.Errorf("a key only the new primary has: %+v", k)
		}
		if k := got["old.key"]; k.After != "" || !strings.HasPrefix(k.Before, "(private key, ") {
			t.Errorf("a key only the node has: %+v", k)
		}
		for _, d := range out.Diffs {
			if strings.Contains(d.Before+d.After, "secret") {
				t.Errorf("diff of %s shows a private key", d.Path)
			}
		}
		if !out.Changed || !strings.HasPrefix(out.Msg, "would rewind; servers diverged at ") ||
			!strings.Contains(out.Msg, "would replace the node's new.key, old.key, pg_hba.conf, postgresql.conf, server.crt with the new primary's") {
			t.Errorf("--check keep_config false: changed=%v %q", out.Changed, out.Msg)
		}

		rewind.KeepConfig = nil
		out, err = rewind.Run(ctx, tgt(true))
		if err != nil {
			t.Fatalf("rewind --check: %v", err)
		}
		want := "keeps the node's new.key (differs), old.key (differs), pg_hba.conf (differs), pg_ident.conf, postgresql.auto.conf, postgresql.conf (differs), server.crt (differs)"
		if len(out.Diffs) != 0 || !out.Changed || !strings.Contains(out.Msg, want) {
			t.Errorf("--check --diff with keep_config: %d diffs, %q; want none and %q", len(out.Diffs), out.Msg, want)
		}
		if !sameSet(readConfigSet(t, s.Primary.DataDir), node) || !slices.Equal(walListing(t, s.Primary.DataDir), wal) {
			t.Fatal("--check changed the node")
		}
	}

	rewind := &Rewind{PGData: s.Primary.DataDir, SourceServer: source, EngineBinary: bin, Engine: engine}
	out, err := rewind.Run(ctx, tgt(false))
	if err != nil {
		t.Fatalf("rewind: %v", err)
	}
	if !sameSet(readConfigSet(t, s.Primary.DataDir), node) {
		t.Errorf("the rewind did not keep the node's configuration set")
	}
	want := "kept the node's new.key (differs), old.key (differs), pg_hba.conf (differs), pg_ident.conf, postgresql.auto.conf, postgresql.conf (differs), server.crt (differs)"
	if !out.Changed || !strings.HasPrefix(out.Msg, "rewound, servers diverged at ") || !strings.Contains(out.Msg, want) {
		t.Errorf("rewind: changed=%v %q; want %q in it", out.Changed, out.Msg, want)
	}
	rep, _ := out.Facts["report"].(map[string]any)
	if kept, _ := rep["kept_config"].([]any); len(kept) != len(configNames) {
		t.Errorf("report's kept_config %v, want %d files", rep["kept_config"], len(configNames))
	}

	must(t, s.Primary.FollowNew(ctx, s.Standby))
	must(t, s.Primary.Start(ctx))
	s.StandbySQL("INSERT INTO t VALUES (-1)")
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	s.CheckQuery("SELECT count(*) FROM t", "101")
}
