package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// TestStepsOverSSH runs the file-handling steps on a lab host through the
// real SSH transport (OpenSSH's sshd, sudo -n -u postgres, SFTP uploads,
// direct-tcpip dials) and checks the result on disk: lab hosts share this
// machine's filesystem.
func TestStepsOverSSH(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 1})
	h := lab.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := transport.DialSSH(ctx, transport.SSHConfig{
		Name: h.Name, Addr: h.SSHAddr(), User: testenv.LoginUser,
		KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pgdata := h.Dirs.DataDir
	src := filepath.Join(t.TempDir(), "pg_hba.conf")
	mustWrite(t, src, "local all all peer\n", 0o644)

	steps := []struct {
		name   string
		action runbook.Action
	}{
		{"conf", &Conf{Path: pgdata + "/postgresql.auto.conf", Set: map[string]any{"primary_conninfo": "host=10.77.0.12 user=rewind", "port": 5432}}},
		{"copy", &Copy{Src: src, Dest: pgdata + "/pg_hba.conf", Mode: modePtr(0o640)}},
		{"file", &File{Path: pgdata + "/pg_wal_extra", State: "directory", Mode: modePtr(0o700)}},
		{"rename", &Rename{Src: pgdata + "/pg_wal_extra", Dest: pgdata + "/pg_wal_moved"}},
		{"command", &Command{Cmd: `id -un > "$PGDATA/whoami"`, Creates: pgdata + "/whoami", Env: map[string]string{"PGDATA": pgdata}}},
	}
	for _, s := range steps {
		out, err := s.action.Run(ctx, &runbook.Target{Conn: conn, Become: "postgres"})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !out.Changed {
			t.Errorf("%s: first run not changed (%s)", s.name, out.Msg)
		}
		out, err = s.action.Run(ctx, &runbook.Target{Conn: conn, Become: "postgres"})
		if err != nil {
			t.Fatalf("%s again: %v", s.name, err)
		}
		if out.Changed {
			t.Errorf("%s: second run changed (%s)", s.name, out.Msg)
		}
	}

	if got := mustRead(t, pgdata+"/postgresql.auto.conf"); got != "port = 5432\nprimary_conninfo = 'host=10.77.0.12 user=rewind'\n" {
		t.Errorf("postgresql.auto.conf holds %q", got)
	}
	if got := mustRead(t, pgdata+"/pg_hba.conf"); got != "local all all peer\n" {
		t.Errorf("pg_hba.conf holds %q", got)
	}
	assertMode(t, pgdata+"/pg_hba.conf", 0o640)
	for _, p := range []string{"postgresql.auto.conf", "pg_hba.conf", "pg_wal_moved", "whoami"} {
		if o := fileOwner(t, filepath.Join(pgdata, p)); o != "postgres" {
			t.Errorf("%s owned by %s; want postgres", p, o)
		}
	}
	if got := strings.TrimSpace(mustRead(t, pgdata+"/whoami")); got != "postgres" {
		t.Errorf("command ran as %q", got)
	}
	if _, err := os.Stat(pgdata + "/pg_wal_extra"); !os.IsNotExist(err) {
		t.Errorf("rename left its source: %v", err)
	}

	// wait dials from the host's side: its own sshd answers there.
	w := &Wait{Port: h.Port, Host: h.Address, Timeout: Duration(10 * time.Second)}
	if _, err := w.Run(ctx, &runbook.Target{Conn: conn}); err != nil {
		t.Errorf("wait for the host's sshd: %v", err)
	}
	w = &Wait{Port: 1, Timeout: Duration(300 * time.Millisecond), Interval: Duration(100 * time.Millisecond)}
	if _, err := w.Run(ctx, &runbook.Target{Conn: conn}); err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("wait for a closed port: err = %v", err)
	}
}
