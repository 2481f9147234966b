package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/runbook"
)

// refuseInterruptedRewind stops pg_start on a data directory whose rewind
// was interrupted: the engine's marker next to PGDATA says the files are
// half the old primary's and half the new one's. The engine also fences
// pg_control so the server itself refuses, but the step says why first,
// and what to do: rerun the rewind (the playbook), which resumes it.
func refuseInterruptedRewind(ctx context.Context, t *runbook.Target, pgdata string) error {
	path := engine.MarkerPath(pgdata)
	raw, ok, err := readFile(ctx, t, path)
	if err != nil {
		return fmt.Errorf("pg_start %s: read rewind marker %s: %w", pgdata, path, err)
	}
	if !ok {
		return nil
	}
	var m engine.Marker
	since := ""
	if json.Unmarshal(raw, &m) == nil && !m.Started.IsZero() {
		since = " started at " + m.Started.UTC().Format(time.RFC3339)
		if m.Phase != "" {
			since += " (phase " + m.Phase + ")"
		}
	}
	return fmt.Errorf("pg_start %s: refusing to start: a rewind%s was interrupted, marker %s; the data directory is neither the old primary nor a copy of the new one: rerun the playbook (its rewind step resumes the rewind) or `pgrunbook rewind`, never start this node by hand", pgdata, since, path)
}

// fencedControl reads the node's own control file from the rewind's
// backup when pg_control is fenced by an interrupted rewind (the fenced
// image is the backup with its system identifier inverted), so that the
// steps before the rerun (pg_stop, fence, lost_report) see the node as it
// was. It reports false when pg_control is not such an image.
func (d *dataDir) fencedControl(ctx context.Context, t *runbook.Target, current []byte, l *layout.Layout) (*pgcontrol.ControlFile, bool) {
	backup, ok, err := readFile(ctx, t, d.file(engine.ControlBackupPath))
	if err != nil || !ok || !bytes.Equal(engine.FencedControl(backup), current) {
		return nil, false
	}
	cf, err := pgcontrol.Parse(backup, l)
	if err != nil {
		return nil, false
	}
	return cf, true
}

// interruptedRewindSkip is lost_report's answer on a node whose rewind
// was interrupted: the data directory is half rewound, so neither its WAL
// nor a dump of it says what the old primary had; the report the step
// wrote before that rewind (it runs before the rewind step) stands. It
// returns nil when there is no marker.
func interruptedRewindSkip(ctx context.Context, t *runbook.Target, pgdata, dir string) (*string, error) {
	path := engine.MarkerPath(pgdata)
	_, ok, err := readFile(ctx, t, path)
	if err != nil {
		return nil, fmt.Errorf("lost_report %s: read rewind marker %s: %w", pgdata, path, err)
	}
	if !ok {
		return nil, nil
	}
	msg := fmt.Sprintf("a rewind was interrupted (marker %s): the data directory is already half rewound, so the report written before that rewind in %s stands", path, dir)
	return &msg, nil
}

// msgOf is the message a skip carries, or "".
func msgOf(msg *string) string {
	if msg == nil {
		return ""
	}
	return *msg
}
