package rewindtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// RewindRole is the source role of remote mode: LOGIN and the four EXECUTE
// grants pg_rewind needs, nothing more.
const RewindRole = "rewind_user"

// scenarioTimeout bounds one scenario; a healthy one takes seconds.
const scenarioTimeout = 4 * time.Minute

// Scenario is upstream RewindTest.pm's shape: an old primary that is rewound
// (the target) and its standby, promoted to be the new primary (the source).
type Scenario struct {
	// T is the test the scenario belongs to.
	T *testing.T
	// Ctx bounds every blocking call of the scenario.
	Ctx context.Context
	// Rewinder is the binary under test.
	Rewinder Rewinder
	// Primary is the old primary: the rewind's target.
	Primary *pgcluster.Cluster
	// Standby is the standby, promoted by PromoteStandby: the source.
	Standby *pgcluster.Cluster
	// ArchiveDir is the old primary's WAL archive in Archive mode.
	ArchiveDir string
}

// requireRoot skips a test that cannot run servers as postgres.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("rewind scenarios run PostgreSQL and pg_rewind as the postgres user and need root")
	}
}

// testContext returns a context that ends with the test or after
// scenarioTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), scenarioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// NewScenario initialises the primary (setup_cluster): streaming allowed,
// wal_keep_size 320MB, plus opts (GroupMode, ExtraConf, ArchiveDir...). The
// server is not started yet, so a test can still rearrange its files.
func NewScenario(t *testing.T, opts pgcluster.Options) *Scenario {
	t.Helper()
	requireRoot(t)
	s := &Scenario{T: t, Ctx: testContext(t), Rewinder: RewinderFromEnv()}
	opts.AllowStreaming = true
	if opts.Name == "" {
		opts.Name = "primary"
	}
	s.Primary = NewCluster(t, s.Ctx, opts)
	s.ArchiveDir = s.TempDir()
	return s
}

// NewCluster initialises a cluster in a fresh temporary directory and
// destroys it when the test ends.
func NewCluster(t *testing.T, ctx context.Context, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := pgcluster.Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	destroyWithTest(t, c)
	return c
}

// NewStandby makes a streaming standby of primary from a base backup,
// destroyed when the test ends; it is not started.
func NewStandby(t *testing.T, ctx context.Context, primary *pgcluster.Cluster, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := pgcluster.BaseBackup(ctx, primary, opts)
	if err != nil {
		t.Fatal(err)
	}
	destroyWithTest(t, c)
	return c
}

func destroyWithTest(t *testing.T, c *pgcluster.Cluster) {
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy %s: %v", c.Name, err)
		}
	})
}

// TempDir is a temporary directory owned by postgres.
func (s *Scenario) TempDir() string {
	s.T.Helper()
	d := s.T.TempDir()
	if err := pgcluster.HandOver(d); err != nil {
		s.T.Fatal(err)
	}
	return d
}

// StartPrimary starts the primary and creates the rewind role
// (start_primary).
func (s *Scenario) StartPrimary() {
	s.T.Helper()
	s.must(s.Primary.Start(s.Ctx))
	s.must(s.Primary.CreateRewindRole(s.Ctx, RewindRole))
}

// CreateStandby makes and starts a streaming standby of the primary
// (create_standby).
func (s *Scenario) CreateStandby(opts pgcluster.Options) {
	s.T.Helper()
	if opts.Name == "" {
		opts.Name = "standby"
	}
	s.Standby = NewStandby(s.T, s.Ctx, s.Primary, opts)
	s.must(s.Standby.Start(s.Ctx))
}

// PromoteStandby waits until the standby has everything the primary wrote,
// promotes it, and checkpoints it: PostgreSQL 15's pg_rewind reads the
// source's timeline from its control file, which a promotion updates only
// at the next checkpoint (promote_standby).
func (s *Scenario) PromoteStandby() {
	s.T.Helper()
	s.must(s.Primary.WaitForCatchup(s.Ctx, s.Standby))
	s.must(s.Standby.Promote(s.Ctx))
	s.must(s.Standby.Checkpoint(s.Ctx))
}

// PrimarySQL runs sql on the primary's postgres database.
func (s *Scenario) PrimarySQL(sql string) {
	s.T.Helper()
	s.must(s.Primary.Exec(s.Ctx, "postgres", sql))
}

// StandbySQL runs sql on the standby's postgres database.
func (s *Scenario) StandbySQL(sql string) {
	s.T.Helper()
	s.must(s.Standby.Exec(s.Ctx, "postgres", sql))
}

// must fails the test on err.
func (s *Scenario) must(err error) {
	s.T.Helper()
	if err != nil {
		s.T.Fatal(err)
	}
}
