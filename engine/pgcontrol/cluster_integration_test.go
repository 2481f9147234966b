package pgcontrol

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// initCluster runs initdb -k as the postgres OS user into a fresh directory
// and returns the data directory. PostgreSQL refuses to run as root, and the
// test's temp directories are root-only, so they are handed over first.
func initCluster(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration test needs root to run PostgreSQL 15 as the postgres user")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("look up postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	// t.TempDir's parent is 0700 root too; postgres must traverse it.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"),
		"-k", "-D", data, "-U", "postgres", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	return data
}
