package steps

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// salvage keeps the divergent WAL segments and a dump of the touched user
// tables in dir on the bastion.
func (s *LostReport) salvage(ctx context.Context, t *runbook.Target, d *dataDir, rep *engine.LostReport, dir string) (*engine.Salvage, error) {
	sv := &engine.Salvage{Dir: dir}
	segs, err := s.salvageWAL(ctx, t, d, rep, filepath.Join(dir, "wal"))
	sv.WALSegments = segs
	if err != nil {
		return sv, err
	}
	dumps, err := s.salvageTables(ctx, t, d, rep, dir)
	sv.Dumps = dumps
	return sv, err
}

// divergentSegments picks, from the names in pg_wal, the segments of the
// old primary's timeline from the one holding the divergence on.
func divergentSegments(names []string, tli lsn.TimeLineID, div lsn.LSN, segSize uint32) []string {
	first := div.Segment(segSize)
	var out []string
	for _, n := range names {
		ntli, seg, err := lsn.ParseSegmentName(n, segSize)
		if err != nil || ntli != tli || seg < first {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// salvageWAL copies the divergent segments, base64-encoded on the wire so
// that the binary content survives the line-oriented command output.
func (s *LostReport) salvageWAL(ctx context.Context, t *runbook.Target, d *dataDir, rep *engine.LostReport, dir string) ([]string, error) {
	if rep.Divergence == nil {
		return nil, nil
	}
	div, err := lsn.Parse(rep.Divergence.LSN)
	if err != nil {
		return nil, fmt.Errorf("salvage WAL: %w", err)
	}
	cf, err := d.control(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("salvage WAL: %w", err)
	}
	res, err := script(ctx, t, `ls -1 -- "$1"`, d.file("pg_wal"))
	if err != nil {
		return nil, fmt.Errorf("salvage WAL: list %s: %w", d.file("pg_wal"), err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("salvage WAL: list %s: %w", d.file("pg_wal"), failure(res))
	}
	names := divergentSegments(strings.Fields(res.Stdout), cf.Timeline(), div, cf.WalSegSize)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("salvage WAL: create %s: %w", dir, err)
	}
	var kept []string
	for _, n := range names {
		src := d.file("pg_wal/" + n)
		res, err := script(ctx, t, `exec base64 -w0 -- "$1"`, src)
		if err != nil {
			return kept, fmt.Errorf("salvage WAL: read %s: %w", src, err)
		}
		if res.ExitCode != 0 {
			return kept, fmt.Errorf("salvage WAL: read %s: %w", src, failure(res))
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(res.Stdout))
		if err != nil {
			return kept, fmt.Errorf("salvage WAL: decode %s: %w", src, err)
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return kept, fmt.Errorf("salvage WAL: write %s: %w", p, err)
		}
		kept = append(kept, p)
	}
	return kept, nil
}

// touchedTables groups the touched user tables by database, as pg_dump -t
// patterns that match exactly one name each.
func touchedTables(rep *engine.LostReport) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range rep.Relations {
		if r.Database == "" || (r.Kind != "table" && r.Kind != "partitioned table" && r.Kind != "materialized view") ||
			r.Schema == "pg_catalog" || r.Schema == "information_schema" || strings.HasPrefix(r.Schema, "pg_toast") {
			continue
		}
		pat := patternQuote(r.Schema) + "." + patternQuote(r.Name)
		if key := r.Database + "\x00" + pat; !seen[key] {
			seen[key] = true
			out[r.Database] = append(out[r.Database], pat)
		}
	}
	return out
}

// patternQuote makes a name a psql pattern that matches only itself.
func patternQuote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// salvageTables dumps the touched tables of each database from a
// read-only start of the old primary: its data is what it was at the stop,
// split-brain writes included, and nothing is written to its WAL.
func (s *LostReport) salvageTables(ctx context.Context, t *runbook.Target, d *dataDir, rep *engine.LostReport, dir string) ([]string, error) {
	byDB := touchedTables(rep)
	dbs := make([]string, 0, len(byDB))
	for db := range byDB {
		dbs = append(dbs, db)
	}
	sort.Strings(dbs)
	var dumps []string
	for _, db := range dbs {
		argv := []string{d.bin("pg_dump"), "--no-password", "-d", db}
		for _, pat := range byDB[db] {
			argv = append(argv, "-t", pat)
		}
		// readOnlyStart runs this with the socket directory and port as $1
		// and $2.
		cmd := transport.Join(argv) + ` -h "$1" -p "$2"`
		res, err := script(ctx, t, readOnlyStart, d.bin("psql"), "", "", "", "", cmd, d.bin("pg_ctl"), d.Path, s.ConfigFile)
		if err != nil {
			return dumps, fmt.Errorf("salvage: dump database %s: %w", db, err)
		}
		if res.ExitCode != 0 {
			return dumps, fmt.Errorf("salvage: dump database %s: %w", db, failure(res))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return dumps, fmt.Errorf("salvage: create %s: %w", dir, err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(db, "/", "_")+".sql")
		if err := os.WriteFile(p, []byte(res.Stdout), 0o600); err != nil {
			return dumps, fmt.Errorf("salvage: write %s: %w", p, err)
		}
		dumps = append(dumps, p)
	}
	return dumps, nil
}
