package rewindtest

import (
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestPreconditions covers two refusals upstream's suite leaves out and the
// seed's author lists as preconditions: the source must be a copy of the
// same cluster (same system identifier), and the target must have data
// checksums or wal_log_hints, without which hint-bit-only page changes are
// not in the WAL and a rewind would miss them.
func TestPreconditions(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	tests := []struct {
		name       string
		setup      func(t *testing.T, s *Scenario) (source *pgcluster.Cluster)
		wantStderr string
	}{
		{
			name: "different systems",
			setup: func(t *testing.T, s *Scenario) *pgcluster.Cluster {
				other := NewCluster(t, s.Ctx, pgcluster.Options{Name: "other", AllowStreaming: true})
				s.must(other.Start(s.Ctx))
				s.must(other.Stop(s.Ctx, pgcluster.StopFast))
				return other
			},
			wantStderr: "source and target clusters are from different systems",
		},
		{
			name: "no checksums nor wal_log_hints",
			setup: func(t *testing.T, s *Scenario) *pgcluster.Cluster {
				s.must(s.Primary.AppendConf("wal_log_hints = off"))
				s.StartPrimary()
				s.CreateStandby(pgcluster.Options{})
				s.PromoteStandby()
				s.must(s.Standby.Stop(s.Ctx, pgcluster.StopFast))
				return s.Standby
			},
			wantStderr: `target server needs to use either data checksums or "wal_log_hints = on"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewScenario(t, pgcluster.Options{})
			source := tt.setup(t, s)
			if running, err := s.Primary.Running(s.Ctx); err != nil {
				t.Fatal(err)
			} else if running {
				s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))
			} else {
				// A cluster that never started has no clean shutdown
				// in its control file yet.
				s.must(s.Primary.Start(s.Ctx))
				s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))
			}
			s.RewindFails(tt.name, tt.wantStderr,
				"--source-pgdata", source.DataDir, "--target-pgdata", s.Primary.DataDir, "--no-sync")
		})
	}
}
