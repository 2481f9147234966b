package steps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestPgStartRefusesAnInterruptedRewind: with the marker of an
// interrupted rewind next to PGDATA, pg_start refuses, names the marker and
// says to rerun the playbook, and starts nothing; the steps that read
// pg_control see the node's own through a fenced one; without the marker
// (and the fence) the same step starts the server.
func TestPgStartRefusesAnInterruptedRewind(t *testing.T) {
	ctx := context.Background()
	c := newPrimary(t, ctx)
	if err := c.Stop(ctx, pgcluster.StopFast); err != nil {
		t.Fatal(err)
	}
	marker := engine.MarkerPath(c.DataDir)
	body := `{"started":"2026-11-27T06:00:00Z","pid":1,"source":"host=h","pgdata":"` + c.DataDir + `","phase":"copy"}`
	if err := os.WriteFile(marker, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fence an interrupted rewind leaves: backup, and pg_control inverted.
	control := filepath.Join(c.DataDir, "global", "pg_control")
	own, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(c.DataDir, engine.ControlBackupPath)
	if err := os.WriteFile(backup, own, 0o600); err != nil {
		t.Fatal(err)
	}
	// The engine runs as postgres and so owns the backup.
	if out, err := exec.Command("chown", "postgres:postgres", backup).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", backup, err, out)
	}
	if err := os.WriteFile(control, engine.FencedControl(own), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := target("postgres", false, false)
	d, err := pgVersion(ctx, tg, c.DataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := d.control(ctx, tg)
	if err != nil || cf.State.String() != "shut down" || cf.Timeline() != 1 {
		t.Fatalf("pg_control of a fenced node should be read from its backup: %+v, %v", cf, err)
	}

	start := &PgStart{PGData: c.DataDir, Timeout: Duration(30 * time.Second)}
	_, err = start.Run(ctx, tg)
	for _, want := range []string{"refusing to start", "started at 2026-11-27T06:00:00Z (phase copy)", marker, "rerun the playbook"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("pg_start with a marker: want %q in %v", want, err)
		}
	}
	if isRunning(t, ctx, c) {
		t.Fatal("pg_start started a node whose rewind was interrupted")
	}

	for _, p := range []string{marker, backup} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(control, own, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runStep(t, ctx, &PgStart{PGData: c.DataDir, Standby: new(false), Timeout: Duration(30 * time.Second)}, false); !out.Changed {
		t.Fatalf("start without a marker: %+v", out)
	}
}
