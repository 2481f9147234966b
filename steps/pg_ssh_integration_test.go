package steps

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// TestPostgresStepsOverSSH runs pg_stop, pg_start and verify on the lab's
// standby pg2 through the real SSH transport: pg_ctl through sudo, a
// postmaster started over an SSH channel that must not hold it open, and
// verify's connections dialled as direct-tcpip channels from pg2, to its
// own loopback and to the primary pg1 across the lab network.
func TestPostgresStepsOverSSH(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Postgres: true})
	pg1, pg2 := lab.Host("pg1"), lab.Host("pg2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := transport.DialSSH(ctx, transport.SSHConfig{
		Name: pg2.Name, Addr: pg2.SSHAddr(), User: testenv.LoginUser,
		KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tg := func() *runbook.Target { return &runbook.Target{Conn: conn, Become: "postgres"} }
	pgdata := pg2.Dirs.DataDir

	stop := &PgStop{PGData: pgdata}
	out, err := stop.Run(ctx, tg())
	if err != nil || out.Msg != "stopped (fast)" {
		t.Fatalf("pg_stop over SSH: %+v, %v", out, err)
	}
	start := &PgStart{PGData: pgdata, Timeout: Duration(30 * time.Second)}
	out, err = start.Run(ctx, tg())
	want := fmt.Sprintf("started, accepting connections on port %d (standby, in recovery)", testenv.PGPort)
	if err != nil || out.Msg != want {
		t.Fatalf("pg_start over SSH: %+v, %v; want %q", out, err, want)
	}

	password := rewindPassword(t, pg2.Dirs.PassFile)
	verify := &Verify{
		PGData: pgdata,
		Primary: fmt.Sprintf("host=%s port=%d user=%s dbname=postgres password=%s",
			pg1.Address, testenv.PGPort, testenv.RewindRole, password),
		Tables:  TableSelection{None: true},
		Timeout: Duration(30 * time.Second),
	}
	var lines []string
	vt := tg()
	vt.Output = func(_, line string) { lines = append(lines, line) }
	out, err = verify.Run(ctx, vt)
	if err != nil {
		t.Fatalf("verify over SSH: %v\n%s", err, strings.Join(lines, "\n"))
	}
	t.Log("verify over SSH:\n" + strings.Join(lines, "\n"))
	assertLines(t, lines, []string{
		"ok    primary is not in recovery",
		"ok    node is in recovery",
		fmt.Sprintf("ok    WAL receiver streaming from the primary: from %s:%d", pg1.Address, testenv.PGPort),
		"ok    same timeline as the primary: timeline 1",
		"ok    replay reaches the primary's position: replayed ",
	})
	if all := out.Msg + strings.Join(lines, "\n"); strings.Contains(all, password) {
		t.Errorf("password in verify output: %s", all)
	}
}

// rewindPassword reads the rewind role's password from a libpq passfile
// (host:port:db:user:password); the test runs as root and may read it.
func rewindPassword(t *testing.T, passfile string) string {
	t.Helper()
	b, err := os.ReadFile(passfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 5 && f[3] == testenv.RewindRole {
			return f[4]
		}
	}
	t.Fatalf("no %s entry in %s", testenv.RewindRole, passfile)
	return ""
}
