package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
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
