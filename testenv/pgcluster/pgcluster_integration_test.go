package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// newTestPrimary starts a streaming-capable primary that is destroyed with
// the test.
func newTestPrimary(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pgcluster integration tests run PostgreSQL as the postgres user and need root")
	}
	ctx := context.Background()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy %s: %v", c.Name, err)
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPrimaryStandbyPromote(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := newTestPrimary(t, Options{Name: "primary", AllowStreaming: true})
	if err := primary.CreateRewindRole(ctx, "rewind_user"); err != nil {
		t.Fatal(err)
	}
	if err := primary.Exec(ctx, "postgres", "CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'one'), (2, NULL)"); err != nil {
		t.Fatal(err)
	}
	standby, err := BaseBackup(ctx, primary, Options{Dir: t.TempDir(), Name: "standby"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Destroy(context.Background()) })
	if !standby.IsStandby() {
		t.Fatal("base backup has no standby.signal")
	}
	if err := standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := primary.Exec(ctx, "postgres", "INSERT INTO t VALUES (3, 'three')"); err != nil {
		t.Fatal(err)
	}
	if err := primary.WaitForCatchup(ctx, standby); err != nil {
		t.Fatal(err)
	}
	rows, err := standby.Query(ctx, "postgres", "SELECT a, b FROM t ORDER BY a")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"1", "one"}, {"2", ""}, {"3", "three"}}
	if !equalRows(rows, want) {
		t.Fatalf("standby rows = %v, want %v", rows, want)
	}
	// The standby also answers over TCP, the way other hosts reach it.
	tcp, err := pgconn.Connect(ctx, standby.TCPConnString(Superuser))
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	_ = tcp.Close(ctx)
	if v, _ := standby.QueryValue(ctx, "postgres", "SELECT pg_is_in_recovery()"); v != "t" {
		t.Fatalf("standby in recovery = %q, want t", v)
	}
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if err := standby.Exec(ctx, "postgres", "INSERT INTO t VALUES (4, 'after promotion')"); err != nil {
		t.Fatalf("write after promotion: %v", err)
	}
	// The control file shows the new timeline only after a checkpoint,
	// which is why rewind tests checkpoint a freshly promoted source.
	if err := standby.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if tli, _ := standby.QueryValue(ctx, "postgres", "SELECT timeline_id FROM pg_control_checkpoint()"); tli != "2" {
		t.Fatalf("timeline after promotion and checkpoint = %s, want 2", tli)
	}
	// The rewind role has exactly the four grants.
	n, err := primary.QueryValue(ctx, "postgres",
		"SELECT count(*) FROM pg_proc p WHERE has_function_privilege('rewind_user', p.oid, 'EXECUTE') AND p.proname IN ('pg_ls_dir', 'pg_stat_file', 'pg_read_binary_file', 'pg_read_file')")
	if err != nil {
		t.Fatal(err)
	}
	if n != "4" {
		t.Fatalf("rewind_user may execute %s of the file functions, want exactly 4", n)
	}
	if err := primary.Stop(ctx, StopImmediate); err != nil {
		t.Fatal(err)
	}
	if running, err := primary.Running(ctx); err != nil || running {
		t.Fatalf("after an immediate stop: running = %v, err = %v", running, err)
	}
}

func TestFollowNewAndGroupMode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arch := filepath.Join(t.TempDir(), "archive")
	a := newTestPrimary(t, Options{Name: "a", AllowStreaming: true, GroupMode: true, ArchiveDir: arch})
	st, err := os.Stat(a.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o750 {
		t.Fatalf("group-mode data directory mode = %v, want 0750", st.Mode().Perm())
	}
	b, err := BaseBackup(ctx, a, Options{Dir: t.TempDir(), Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Destroy(context.Background()) })
	c, err := BaseBackup(ctx, a, Options{Dir: t.TempDir(), Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	for _, n := range []*Cluster{b, c} {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Exec(ctx, "postgres", "CREATE TABLE t AS SELECT 1 AS a; SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Cluster{b, c} {
		if err := a.WaitForCatchup(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Stop(ctx, StopFast); err != nil {
		t.Fatal(err)
	}
	if err := b.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.FollowNew(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, "postgres", "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitForCatchup(ctx, c); err != nil {
		t.Fatal(err)
	}
	if v, err := c.QueryValue(ctx, "postgres", "SELECT string_agg(a::text, ',' ORDER BY a) FROM t"); err != nil || v != "1,2" {
		t.Fatalf("c after following b: %q, %v; want 1,2", v, err)
	}
	// The archive got a's segments.
	if ents, err := os.ReadDir(arch); err != nil || len(ents) == 0 {
		t.Fatalf("archive %s: %d entries, %v", arch, len(ents), err)
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestBaseBackupTablespace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := newTestPrimary(t, Options{Name: "primary", AllowStreaming: true})
	loc := filepath.Join(t.TempDir(), "ts=1")
	if err := os.Mkdir(loc, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := HandOver(loc); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLESPACE ts1 LOCATION '" + loc + "'",
		"CREATE TABLE t_ts (a int) TABLESPACE ts1",
		"INSERT INTO t_ts VALUES (7)",
	} {
		if err := primary.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	standby, err := BaseBackup(ctx, primary, Options{Dir: t.TempDir(), Name: "standby"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Destroy(context.Background()) })
	if err := standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := standby.QueryValue(ctx, "postgres", "SELECT a FROM t_ts"); err != nil || v != "7" {
		t.Fatalf("table in the tablespace on the standby: %q, %v", v, err)
	}
	got, err := standby.QueryValue(ctx, "postgres", "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts1'")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, standby.Dir+"/tblspc/") {
		t.Fatalf("standby tablespace at %s, want it under %s/tblspc", got, standby.Dir)
	}
}

// TestLongDir checks the socket fallback: a unix socket path must fit in
// 108 bytes, which deep test directories exceed.
func TestLongDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("pgcluster integration tests run PostgreSQL as the postgres user and need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep", 25))
	c, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(c.SocketDir, dir) || len(c.SocketDir) > maxSocketDir {
		t.Fatalf("socket directory %s: want a short one outside %s", c.SocketDir, dir)
	}
	if err := c.Start(ctx); err != nil {
		_ = c.Destroy(ctx)
		t.Fatal(err)
	}
	if v, err := c.QueryValue(ctx, "postgres", "SELECT current_setting('unix_socket_directories')"); err != nil || v != c.SocketDir {
		t.Errorf("unix_socket_directories = %q, %v; want %s", v, err, c.SocketDir)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.SocketDir); !os.IsNotExist(err) {
		t.Fatalf("Destroy left the socket directory %s (stat: %v)", c.SocketDir, err)
	}
}
