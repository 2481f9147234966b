package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// cluster is the one real PostgreSQL 15 cluster the integration tests of
// this package share: created, loaded with a workload that exercises every
// WAL feature the reader handles, and stopped by TestMain.
var cluster struct {
	dir     string // root of the scratch tree
	pgdata  string
	walDir  string
	control *pgcontrol.ControlFile
	// skip is why the integration tests cannot run, or "".
	skip string
	// err is a setup failure, reported by every integration test.
	err error
}

// workload touches: heap inserts and updates with and without full-page
// images, pglz- and lz4-compressed images, a multi-page logical message, a
// segment switch, a prepared transaction, VM/FSM forks (vacuum), a
// file-copy database creation and a relation drop.
var workload = []string{
	`create table t(a int primary key, b text)`,
	`insert into t select g, repeat('x', g % 50) from generate_series(1, 3000) g`,
	`checkpoint`,
	`update t set b = 'y' where a % 7 = 0`,
	`set wal_compression = pglz; checkpoint; update t set b = 'z' where a % 11 = 0`,
	`set wal_compression = lz4; checkpoint; update t set b = 'w' where a % 13 = 0`,
	`select count(pg_logical_emit_message(true, 'p', repeat(g::text, 30000))) from generate_series(1, 60) g`,
	`create table big(a int, b text)`,
	`insert into big select g, md5(g::text) from generate_series(1, 60000) g`,
	`vacuum t`,
	`create database d2 strategy file_copy`,
	`select pg_switch_wal()`,
	`insert into t values (100000, 'after switch')`,
	`begin; insert into t values (100001, 'p'); prepare transaction 'p1'`,
	`commit prepared 'p1'`,
	`drop table big`,
	`checkpoint`,
	`insert into t values (100002, 'last')`,
}

// clusterOnce builds the cluster on first use, so that unit tests and fuzz
// workers that never need it do not pay for it.
var clusterOnce sync.Once

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.dir != "" && os.Getenv("PGRUNBOOK_KEEP") == "" {
		os.RemoveAll(cluster.dir)
	}
	os.Exit(code)
}

// needCluster skips or fails a test that needs the shared cluster.
func needCluster(t testing.TB) {
	t.Helper()
	clusterOnce.Do(func() {
		if os.Geteuid() != 0 {
			cluster.skip = "integration tests need root to run PostgreSQL 15 as the postgres user"
			return
		}
		cluster.err = setupCluster()
	})
	if cluster.skip != "" {
		t.Skip(cluster.skip)
	}
	if cluster.err != nil {
		t.Fatalf("set up the test cluster: %v", cluster.err)
	}
}

func setupCluster() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("look up postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "pgrunbook-wal-")
	if err != nil {
		return err
	}
	cluster.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	sock := filepath.Join(dir, "sock")
	for _, d := range []string{sock, filepath.Join(dir, "pg")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	cluster.pgdata = filepath.Join(dir, "pg", "data")
	cluster.walDir = filepath.Join(cluster.pgdata, "pg_wal")
	if err := asPostgres(filepath.Join(pgBin, "initdb"), "-k", "-D", cluster.pgdata, "-U", "postgres", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	opts := "-c listen_addresses='' -k " + sock + " -c fsync=off -c max_prepared_transactions=2" +
		" -c wal_keep_size=1GB -c max_wal_size=1GB -c checkpoint_timeout=1h -c autovacuum=off"
	if err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", cluster.pgdata, "-w", "-l", filepath.Join(dir, "pg", "log"), "-o", opts, "start"); err != nil {
		return err
	}
	var runErr error
	for _, sql := range workload {
		if runErr = asPostgres(filepath.Join(pgBin, "psql"), "-h", sock, "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql); runErr != nil {
			break
		}
	}
	if err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", cluster.pgdata, "-w", "-m", "fast", "stop"); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	cluster.control, err = pgcontrol.Read(filepath.Join(cluster.pgdata, "global", "pg_control"))
	return err
}

func asPostgres(argv ...string) error {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, argv...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// copyWAL copies the cluster's WAL segments into a fresh directory that a
// test may damage.
func copyWAL(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(cluster.walDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(cluster.walDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// newReader returns a reader over a pg_wal directory of the shared cluster
// (timeline 1).
func newReader(t *testing.T, walDir string, fetch Fetcher) *Reader {
	t.Helper()
	src := NewDir(walDir, cluster.control.WalSegSize, fetch)
	t.Cleanup(func() { src.Close() })
	r, err := NewReader(ConfigFor(cluster.control, src, timeline.Single(1)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads every record from the start of segment 1 to the end of WAL.
func readAll(t *testing.T, r *Reader) []*Record {
	t.Helper()
	r.Seek(lsn.LSN(cluster.control.WalSegSize)) // start of segment 1: the page header is skipped
	var out []*Record
	for {
		rec, err := r.Next(context.Background())
		if err != nil {
			if !isEndOfWAL(err) {
				t.Fatalf("after %d records: %v", len(out), err)
			}
			return out
		}
		out = append(out, rec)
	}
}

func isEndOfWAL(err error) bool {
	return errors.Is(err, ErrEndOfWAL)
}
