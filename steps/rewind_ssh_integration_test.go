package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestRewindStepOverSSH rejoins the lab's old primary pg1 after a split
// brain through the real SSH transport: the engine binary goes up by SFTP
// into pg1's remote_dir, runs through sudo as postgres, reaches the new
// primary pg2 across the lab network with the password from a passfile,
// streams progress back and leaves no passfile behind; run again, the
// step finds no rewind needed and uploads nothing.
func TestRewindStepOverSSH(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Postgres: true})
	bin := builtEngine(t)
	pg1, pg2 := lab.Host("pg1"), lab.Host("pg2")
	c1, c2 := lab.PGCluster("pg1"), lab.PGCluster("pg2")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Split brain: pg2 is promoted while pg1 goes on writing.
	must(t, c1.Exec(ctx, "postgres", "CREATE TABLE ssh_t AS SELECT g FROM generate_series(1, 100) g"))
	at, err := c1.CurrentLSN(ctx)
	must(t, err)
	must(t, c2.WaitReplay(ctx, at))
	must(t, c2.Promote(ctx))
	must(t, c2.Checkpoint(ctx))
	must(t, c1.Exec(ctx, "postgres", "INSERT INTO ssh_t SELECT g FROM generate_series(1, 5000) g"))
	must(t, c1.Stop(ctx, pgcluster.StopFast))

	conn, err := transport.DialSSH(ctx, transport.SSHConfig{
		Name: pg1.Name, Addr: pg1.SSHAddr(), User: testenv.LoginUser,
		KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts},
	})
	must(t, err)
	defer conn.Close()
	password, err := lab.RewindPassword()
	must(t, err)
	source := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres password=%s", pg2.Address, testenv.PGPort, testenv.RewindRole, password)
	var phases []string
	tg := func() *runbook.Target {
		return &runbook.Target{
			Conn: conn, Become: "postgres",
			Host:     &runbook.Host{Name: "pg1", Vars: map[string]any{"remote_dir": pg1.Dirs.RemoteDir}},
			Progress: func(p runbook.Progress) { phases = append(phases, p.Phase) },
		}
	}

	stage := &WALStage{PGData: pg1.Dirs.DataDir, ArchiveDir: lab.Cluster(pg1.Cluster).ArchiveDir, SourceServer: source, EngineBinary: bin}
	out, err := stage.Run(ctx, tg())
	if err != nil {
		t.Fatalf("wal_stage over SSH: %v", err)
	}
	t.Logf("wal_stage over SSH: %s", out.Msg)

	rewind := &Rewind{PGData: pg1.Dirs.DataDir, SourceServer: source, EngineBinary: bin}
	out, err = rewind.Run(ctx, tg())
	if err != nil {
		t.Fatalf("rewind over SSH: %v", err)
	}
	if !out.Changed || !strings.HasPrefix(out.Msg, "rewound, servers diverged at ") {
		t.Errorf("rewind over SSH: changed=%v %q", out.Changed, out.Msg)
	}
	if strings.Contains(out.Msg+fmt.Sprint(out.Facts), password) {
		t.Errorf("the password shows in the outcome")
	}
	checkEngineCommand(t, out.Facts["command"], password)
	if !strings.Contains(strings.Join(phases, " "), "copying") {
		t.Errorf("no copy progress over SSH: %v", phases)
	}
	shipped, err := filepath.Glob(filepath.Join(pg1.Dirs.RemoteDir, "pgrunbook-*"))
	must(t, err)
	if len(shipped) != 1 {
		t.Fatalf("remote_dir holds %v; want one pgrunbook-<sha256>", shipped)
	}
	st1, err := os.Stat(shipped[0])
	must(t, err)

	out, err = rewind.Run(ctx, tg())
	if err != nil || out.Changed || !strings.HasSuffix(out.Msg, "no rewind required") {
		t.Errorf("second rewind over SSH: changed=%v %q %v", out.Changed, out.Msg, err)
	}
	st2, err := os.Stat(shipped[0])
	must(t, err)
	if !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("the binary was uploaded again although it was in place")
	}
}
