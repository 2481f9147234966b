package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

var _ runbook.Validator = (*CatalogSnapshot)(nil)

// CatalogSnapshot saves the old primary's catalog (per database: every
// relation with its file node, every function) on the bastion, as
// report_dir/<host>/catalog.json, so that the lost_report step can name the
// relations the split brain touched, including those created during the
// split, which the new primary has never seen.
//
//	catalog_snapshot: {pgdata: /var/lib/postgresql/15/main, report_dir: /var/log/pgrunbook}
//
// Take it before the old primary is stopped: a running server is queried
// with psql as the become user over its own unix socket. A server that is
// already stopped (a failed-over primary often is) is started for the
// snapshot as a hot standby of nothing: standby.signal, no
// primary_conninfo, no restore_command, no archiving, no TCP listener and a
// private socket directory. It replays its own WAL to the end and answers
// read-only queries, writes no WAL, and is stopped again (fast); its
// pg_control then says "shut down in recovery", which a rewind accepts as
// a clean shutdown. Under --check a stopped server is left alone.
type CatalogSnapshot struct {
	// PGData is the old primary's data directory.
	PGData string `yaml:"pgdata"`
	// ReportDir is the directory on the bastion that receives
	// <host>/catalog.json.
	ReportDir string `yaml:"report_dir"`
	// BinDir holds psql and pg_ctl; default /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// ConfigFile is postgresql.conf when outside PGDATA, for the
	// read-only start.
	ConfigFile string `yaml:"config_file"`
	// Timeout bounds the whole step (default 2m).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks the required parameters.
func (s *CatalogSnapshot) Validate() error {
	switch {
	case s.PGData == "":
		return errors.New("pgdata is required")
	case s.ReportDir == "":
		return errors.New("report_dir is required")
	}
	return nil
}

// Run takes the snapshot and saves it on the bastion.
func (s *CatalogSnapshot) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("catalog_snapshot: %w", err)
	}
	timeout := time.Duration(s.Timeout)
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := pgVersion(ctx, t, s.PGData, s.BinDir)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("catalog_snapshot: %w", err)
	}
	running, err := d.running(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("catalog_snapshot %s: %w", s.PGData, err)
	}
	if !running && t.Check {
		return runbook.Outcome{Changed: true, Msg: "would start the stopped server read-only (hot standby of nothing) to snapshot its catalog"}, nil
	}
	cat, err := snapshotCatalog(ctx, t, d, running, s.ConfigFile)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("catalog_snapshot %s: %w", s.PGData, err)
	}
	out := runbook.Outcome{Changed: !running, Facts: map[string]any{"databases": len(cat.Databases)}}
	how := "from the running server"
	if !running {
		how = "from a read-only start of the stopped server"
	}
	out.Msg = fmt.Sprintf("catalog of %d databases %s", len(cat.Databases), how)
	if t.Check {
		return out, nil
	}
	p, err := saveCatalog(filepath.Join(s.ReportDir, hostName(t)), cat)
	if err != nil {
		return out, fmt.Errorf("catalog_snapshot %s: %w", s.PGData, err)
	}
	out.Facts["catalog_file"] = p
	out.Msg += ", saved in " + p
	return out, nil
}

// hostName is the inventory name of the target, for per-host directories
// on the bastion.
func hostName(t *runbook.Target) string {
	if t.Host != nil && t.Host.Name != "" {
		return t.Host.Name
	}
	return "localhost"
}

// saveCatalog writes the snapshot as dir/catalog.json.
func saveCatalog(dir string, cat *engine.Catalog) (string, error) {
	b, err := json.MarshalIndent(cat, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode catalog snapshot: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create catalog directory %s: %w", dir, err)
	}
	p := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write catalog snapshot %s: %w", p, err)
	}
	return p, nil
}

// loadCatalog reads a snapshot saved by saveCatalog; a missing file is
// (nil, nil).
func loadCatalog(p string) (*engine.Catalog, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog snapshot %s: %w", p, err)
	}
	var cat engine.Catalog
	if err := json.Unmarshal(b, &cat); err != nil {
		return nil, fmt.Errorf("read catalog snapshot %s: %w", p, err)
	}
	return &cat, nil
}

// catalogLoop runs the catalog query in every database that accepts
// connections, one JSON object a line. $1 is psql, $2 the socket
// directory, $3 the port, $4 the databases query, $5 the catalog query.
const catalogLoop = `"$1" -X -At -v ON_ERROR_STOP=1 -h "$2" -p "$3" -d postgres -c "$4" </dev/null |
while IFS= read -r db; do
  "$1" -X -At -v ON_ERROR_STOP=1 -h "$2" -p "$3" -d "$db" -c "$5" </dev/null || exit 1
done`

// readOnlyStart starts a stopped cluster as a hot standby of nothing in a
// private socket directory, runs catalogLoop (or, with a command in $6,
// that command with the socket directory and port as its arguments), and
// stops the server again whatever happened. $1 psql, $4 and $5 as in
// catalogLoop, $6 the optional command, $7 pg_ctl, $8 PGDATA, $9 an
// optional config_file. A standby.signal already there (a stopped standby)
// is kept.
const readOnlyStart = `set -e
pgdata=$8
sock=$(mktemp -d)
made=
started=
finish() {
  if [ -n "$started" ]; then "$7" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 || true; fi
  if [ -n "$made" ]; then rm -f -- "$pgdata/standby.signal"; fi
  rm -rf -- "$sock"
}
trap finish EXIT
if [ ! -e "$pgdata/standby.signal" ]; then : >"$pgdata/standby.signal"; made=1; fi
opts="-c listen_addresses='' -c unix_socket_directories='$sock' -c primary_conninfo='' -c restore_command=''"
opts="$opts -c archive_mode=off -c hot_standby=on -c recovery_target_timeline=current -c wal_keep_size=1000000"
if [ -n "$9" ]; then opts="$opts -c config_file='$9'"; fi
started=1
if ! "$7" start -w -t 60 -D "$pgdata" -l "$sock/server.log" -o "$opts" >/dev/null; then
  tail -n 20 "$sock/server.log" >&2 || true
  exit 1
fi
port=$(sed -n 4p "$pgdata/postmaster.pid")
if [ -n "$6" ]; then sh -c "$6" catalog "$sock" "$port"; exit; fi
set -- "$1" "$sock" "$port" "$4" "$5"
` + catalogLoop

// snapshotCatalog queries every database of the cluster, running or
// started read-only for the purpose.
func snapshotCatalog(ctx context.Context, t *runbook.Target, d *dataDir, running bool, configFile string) (*engine.Catalog, error) {
	var res transport.Result
	var err error
	if running {
		pid, perr := d.pidFile(ctx, t)
		if perr != nil {
			return nil, perr
		}
		if pid == nil || pid.Socket == "" {
			return nil, errors.New("the running server has no unix socket directory in postmaster.pid: psql cannot reach it as the become user")
		}
		res, err = script(ctx, t, catalogLoop, d.bin("psql"), pid.Socket, fmt.Sprint(pid.Port), engine.CatalogDatabasesQuery, engine.CatalogQuery)
	} else {
		res, err = script(ctx, t, readOnlyStart, d.bin("psql"), "", "", engine.CatalogDatabasesQuery, engine.CatalogQuery, "",
			d.bin("pg_ctl"), d.Path, configFile)
	}
	if err != nil {
		return nil, fmt.Errorf("query the catalog: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("query the catalog: %w", failure(res))
	}
	return parseCatalog(res.Stdout)
}

// parseCatalog reads catalogLoop's output: one CatalogDatabase a line.
func parseCatalog(out string) (*engine.Catalog, error) {
	cat := &engine.Catalog{TakenAt: time.Now().UTC().Format(time.RFC3339), Databases: []engine.CatalogDatabase{}}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var db engine.CatalogDatabase
		if err := json.Unmarshal([]byte(line), &db); err != nil {
			return nil, fmt.Errorf("parse catalog query output: %w", err)
		}
		cat.Databases = append(cat.Databases, db)
	}
	if len(cat.Databases) == 0 {
		return nil, errors.New("the catalog query returned no database")
	}
	return cat, nil
}
