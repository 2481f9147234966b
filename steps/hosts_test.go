package steps

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// newConn returns the connection tests run steps on.
//
// It is the real local transport, which builds the same shell line as SSH
// (sudo -n -u for become, the watchdog, framed stdin).
func newConn() transport.Conn { return transport.NewLocal() }

// target returns a Target on this machine running steps as become.
func target(become string, check, diff bool) *runbook.Target {
	return &runbook.Target{Conn: newConn(), Become: become, Check: check, Diff: diff}
}

// postgresDir returns a temporary directory owned by the postgres user that
// postgres can reach (t.TempDir's parent is root-only).
func postgresDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("become tests need root (sudo -n -u postgres); skipping")
	}
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("chown %s: %v: %s", dir, err, out)
	}
	return dir
}

// fileOwner returns the user name owning path.
func fileOwner(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("stat", "-c", "%U", path).Output()
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// snapshot returns every file under dir with its mode and content, to
// check that check mode touched nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String() + "\n")
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
			b.WriteString("\n--\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pgUID returns the postgres user's uid.
func pgUID(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}
