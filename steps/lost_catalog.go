package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
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
// snapshot where nobody can reach it: no TCP listener, a private socket
// directory, no archiving, no autovacuum, read-only transactions; then it
// is stopped again (fast), which adds one shutdown checkpoint to its WAL
// and nothing else (see readOnlyStart). A server that crashed is skipped
// (pg_stop recovers it first; lost_report then takes the snapshot
// itself). Under --check a stopped server is left alone.
type CatalogSnapshot struct {
	// PGData is the old primary's data directory.
	PGData string `yaml:"pgdata"`
	// ReportDir is the directory on the bastion that receives
	// <host>/catalog.json; without it the step skips.
	ReportDir string `yaml:"report_dir"`
	// BinDir holds psql and pg_ctl; default /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// ConfigFile is postgresql.conf when outside PGDATA, for the
	// read-only start.
	ConfigFile string `yaml:"config_file"`
	// Timeout bounds the whole step (default 2m).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks the required parameters. An empty report_dir is valid
// (a playbook passes an optional variable through): the step then skips.
func (s *CatalogSnapshot) Validate() error {
	if s.PGData == "" {
		return errors.New("pgdata is required")
	}
	return nil
}

// Run takes the snapshot and saves it on the bastion.
func (s *CatalogSnapshot) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("catalog_snapshot: %w", err)
	}
	if s.ReportDir == "" {
		return runbook.Outcome{Skipped: true, Msg: "no report_dir: no catalog snapshot kept"}, nil
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
	if !running {
		// A crashed server would do crash recovery in the read-only start
		// and come out "shut down in recovery": pg_stop's own crash
		// recovery, which says so, comes first, and lost_report takes the
		// snapshot after it.
		st, err := d.state(ctx, t)
		if err != nil {
			return runbook.Outcome{}, fmt.Errorf("catalog_snapshot %s: %w", s.PGData, err)
		}
		if !st.cleanlyShutDown() {
			return runbook.Outcome{Skipped: true, Msg: fmt.Sprintf("the stopped server is %s, not cleanly shut down: lost_report takes the snapshot after pg_stop", st.State)}, nil
		}
	}
	if !running && t.Check {
		return runbook.Outcome{Changed: true, Msg: "would start the stopped server, unreachable and read-only, to snapshot its catalog"}, nil
	}
	cat, err := snapshotCatalog(ctx, t, d, running, s.ConfigFile)
	if err != nil && !running && ctx.Err() == nil {
		// A stopped old primary may not start yet: the WAL of its last
		// checkpoint may have gone to the archive, which wal_stage brings
		// back. lost_report tries again then; this is no failure.
		return runbook.Outcome{Skipped: true, Msg: fmt.Sprintf("the stopped server could not be started for a look (%s): lost_report takes the snapshot after wal_stage", firstLine(err.Error()))}, nil
	}
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

// firstLine is the first line of a message.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return line
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

// readOnlyStart starts a stopped, cleanly shut down cluster where nobody
// else can reach it, runs catalogLoop (or, with a command in $6, that
// command with the socket directory and port as its arguments), and stops
// the server again whatever happened. $1 psql, $4 and $5 as in
// catalogLoop, $6 the optional command, $7 pg_ctl, $8 PGDATA, $9 an
// optional config_file.
//
// The server gets no TCP listener, a private socket directory, no
// archiving, no autovacuum and read-only transactions: the data it shows
// is exactly what it had at its stop. A hot standby would write nothing at
// all, but a standby started on a primary's shutdown checkpoint waits for
// a next WAL record before it admits connections, which never comes. So
// the one write is the shutdown checkpoint of the fast stop, past the
// split brain's WAL; wal_keep_size keeps that checkpoint from recycling
// the WAL the rewind and the salvage still read. A data directory with a
// signal file is refused: started without it, a standby would become a
// primary on a new timeline.
const readOnlyStart = `set -e
pgctl=$7 pgdata=$8
for f in standby.signal recovery.signal recovery.conf; do
  if [ -e "$pgdata/$f" ]; then echo "$pgdata/$f exists: not started for a read-only look" >&2; exit 1; fi
done
sock=$(mktemp -d)
started=
finish() {
  if [ -n "$started" ]; then "$pgctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 || true; fi
  rm -rf -- "$sock"
}
trap finish EXIT
opts="-c listen_addresses='' -c unix_socket_directories='$sock' -c archive_mode=off -c autovacuum=off"
opts="$opts -c default_transaction_read_only=on -c wal_keep_size=1000000000 -c max_slot_wal_keep_size=-1"
if [ -n "$9" ]; then opts="$opts -c config_file='$9'"; fi
started=1
if ! "$pgctl" start -w -t 60 -D "$pgdata" -l "$sock/server.log" -o "$opts" >/dev/null; then
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
		sock := pid.Socket
		if !path.IsAbs(sock) {
			// unix_socket_directories = '.' is relative to the data
			// directory, the server's working directory.
			sock = path.Join(d.Path, sock)
		}
		res, err = script(ctx, t, catalogLoop, d.bin("psql"), sock, fmt.Sprint(pid.Port), engine.CatalogDatabasesQuery, engine.CatalogQuery)
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
