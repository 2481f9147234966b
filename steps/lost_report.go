package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/runbook"
)

var _ runbook.Validator = (*LostReport)(nil)

// LostReport writes, before anything is rewound, what a rewind of the old
// primary would throw away: the divergence point and timelines, the WAL
// bytes and every transaction (xid, commit time) the old primary committed
// after the divergence, the relations those changes touched with block
// counts and names, and the objects only the old primary has. It lands on
// the bastion as report_dir/<host>/lost.json and lost.txt, and its one-line
// summary is the step's message, so it reaches the run's output.
//
//	lost_report: {pgdata: /var/lib/postgresql/15/main, source_server: "host=10.77.0.12 user=rewind dbname=postgres", report_dir: /var/log/pgrunbook}
//
// The WAL part is a dry run of the shipped engine (`pgrunbook rewind -n`):
// the same divergence search, backward walk to the last common checkpoint
// and forward scan the rewind does, with nothing written; so the old
// primary must be stopped, and the WAL from the last common checkpoint on
// must be in pg_wal (run wal_stage first). Names come from the old
// primary's catalog snapshot (the catalog_snapshot step's
// report_dir/<host>/catalog.json, taken now with a read-only start when
// there is none) and, for relations both have, from the new primary, which
// the step queries from the bastion through the host's connection. The
// objects only on the old primary are the snapshot minus the new primary's
// catalogs.
//
// With salvage_dir, the divergent WAL segments (from the divergence's
// segment to the end of the old primary's pg_wal) and a pg_dump of every
// touched user table, taken from a read-only start of the old primary, are
// kept in salvage_dir/<host> so an operator can re-apply lost writes.
//
// When no rewind is needed, nothing is lost and a report from an earlier
// run is left as it is. Under --check nothing runs.
type LostReport struct {
	// PGData is the old primary's data directory.
	PGData string `yaml:"pgdata"`
	// SourceServer is the conninfo of the new primary, as the host reaches
	// it (the engine connects from the host, the catalog queries from the
	// bastion through the host).
	SourceServer string `yaml:"source_server"`
	// ReportDir is the directory on the bastion that receives
	// <host>/lost.json and <host>/lost.txt; without it the step skips.
	ReportDir string `yaml:"report_dir"`
	// Snapshot is the bastion path of the old primary's catalog snapshot;
	// default report_dir/<host>/catalog.json.
	Snapshot string `yaml:"snapshot"`
	// SalvageDir, when set, is a directory on the bastion that receives
	// <host>/wal/ and <host>/<database>.sql.
	SalvageDir string `yaml:"salvage_dir"`
	// BinDir holds the host's PostgreSQL programs; default
	// /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// ConfigFile is the target's postgresql.conf when outside PGDATA.
	ConfigFile string `yaml:"config_file"`
	// EngineBinary is the bastion path of the pgrunbook binary to ship.
	EngineBinary string `yaml:"engine_binary"`
	// Timeout bounds the whole step (default 10m).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks the required parameters. An empty report_dir is valid
// (a playbook passes an optional variable through): the step then skips.
func (s *LostReport) Validate() error {
	switch {
	case s.PGData == "":
		return errors.New("pgdata is required")
	case s.SourceServer == "":
		return errors.New("source_server is required")
	}
	return nil
}

// Run assembles the report and saves it on the bastion.
func (s *LostReport) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("lost_report: %w", err)
	}
	if s.ReportDir == "" {
		return runbook.Outcome{Skipped: true, Msg: "no report_dir: no lost-data report written"}, nil
	}
	dir := filepath.Join(s.ReportDir, hostName(t))
	if t.Check {
		return runbook.Outcome{Msg: "would write the lost-data report to " + dir}, nil
	}
	timeout := time.Duration(s.Timeout)
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if skip, err := interruptedRewindSkip(ctx, t, s.PGData, dir); skip != nil || err != nil {
		return runbook.Outcome{Skipped: skip != nil, Msg: msgOf(skip)}, err
	}
	out, err := s.run(ctx, t, dir)
	if err != nil {
		return out, fmt.Errorf("lost_report %s: %w", s.PGData, redact(err, s.SourceServer, nil))
	}
	return out, nil
}

func (s *LostReport) run(ctx context.Context, t *runbook.Target, dir string) (runbook.Outcome, error) {
	d, err := pgVersion(ctx, t, s.PGData, s.BinDir)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if running, err := d.running(ctx, t); err != nil {
		return runbook.Outcome{}, err
	} else if running {
		return runbook.Outcome{}, errors.New("the server is running: the lost-data report reads its WAL, stop it cleanly first (pg_stop)")
	}
	rewind, err := s.dryRun(ctx, t)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if !rewind.RewindNeeded {
		return runbook.Outcome{Msg: "nothing lost: no rewind required"}, nil
	}
	var out runbook.Outcome
	old, err := s.oldCatalog(ctx, t, d, dir, &out)
	if err != nil {
		return out, err
	}
	in := engine.LostInput{Host: hostName(t), Rewind: rewind, Old: old}
	// The engine just read this pg_control, so a major it cannot parse
	// has already failed the dry run; should it fail here anyway, the
	// report says the old timeline is unknown (0) rather than fail.
	if cf, err := d.control(ctx, t); err == nil {
		in.OldTimeline = uint32(cf.Timeline())
	}
	in.New, in.NewTimeline, err = s.newPrimaryCatalog(ctx, t)
	if err != nil {
		return out, err
	}
	rep := engine.AssembleLostReport(in)
	if s.SalvageDir != "" {
		sv, err := s.salvage(ctx, t, d, rep, filepath.Join(s.SalvageDir, hostName(t)))
		rep.Salvage = sv
		if err != nil {
			return out, err
		}
	}
	jp, tp, err := rep.WriteFiles(dir)
	if err != nil {
		return out, err
	}
	out.Msg = rep.Summary() + "; report in " + tp
	// The recap repeats it: at the end of a long run the operator must
	// still see what the rewind threw away.
	out.Note = rep.Summary() + " (" + tp + ")"
	out.Facts = map[string]any{"report_file": jp, "text_file": tp, "commits": len(rep.Commits), "lost": rep}
	return out, nil
}

// dryRun runs the shipped engine's rewind with -n and returns its report,
// whose lost section is the WAL part of the lost-data report.
func (s *LostReport) dryRun(ctx context.Context, t *runbook.Target) (*engine.Report, error) {
	args := []string{"rewind", "-n", "--target-pgdata=" + s.PGData}
	if s.ConfigFile != "" {
		args = append(args, "--config-file="+s.ConfigFile)
	}
	e := newRemoteEngine(t, s.EngineBinary)
	run, err := e.runEngine(ctx, "", args, s.SourceServer)
	if err != nil {
		return nil, fmt.Errorf("dry run of the rewind: %w", err)
	}
	b, err := json.Marshal(run.Report)
	if err != nil {
		return nil, fmt.Errorf("read the dry run's report: %w", err)
	}
	var rep engine.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read the dry run's report: %w", err)
	}
	return &rep, nil
}

// oldCatalog loads the old primary's snapshot, or takes it now (which
// starts the stopped server read-only, a change on the host) and saves it.
func (s *LostReport) oldCatalog(ctx context.Context, t *runbook.Target, d *dataDir, dir string, out *runbook.Outcome) (*engine.Catalog, error) {
	p := s.Snapshot
	if p == "" {
		p = filepath.Join(dir, "catalog.json")
	}
	cat, err := loadCatalog(p)
	if err != nil || cat != nil {
		return cat, err
	}
	cat, err = snapshotCatalog(ctx, t, d, false, s.ConfigFile)
	if err != nil {
		return nil, err
	}
	out.Changed = true
	if _, err := saveCatalog(filepath.Dir(p), cat); err != nil {
		return nil, err
	}
	return cat, nil
}

// newPrimaryCatalog reads the new primary's catalogs of every database and
// its timeline, connecting from the bastion through the host.
func (s *LostReport) newPrimaryCatalog(ctx context.Context, t *runbook.Target) (*engine.Catalog, uint32, error) {
	conn, err := dialThroughHost(ctx, t, s.SourceServer, "")
	if err != nil {
		return nil, 0, err
	}
	defer closeConn(ctx, conn)
	var tli uint32
	if err := conn.QueryRow(ctx, "SELECT timeline_id::int8 FROM pg_control_checkpoint()").Scan(&tli); err != nil {
		return nil, 0, fmt.Errorf("read the new primary's timeline: %w", err)
	}
	rows, err := conn.Query(ctx, engine.CatalogDatabasesQuery)
	if err != nil {
		return nil, 0, fmt.Errorf("list the new primary's databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("list the new primary's databases: %w", err)
	}
	cat := &engine.Catalog{TakenAt: time.Now().UTC().Format(time.RFC3339), Databases: []engine.CatalogDatabase{}}
	for _, db := range dbs {
		c := conn
		if db != conn.Config().Database {
			if c, err = dialThroughHost(ctx, t, s.SourceServer, db); err != nil {
				return nil, 0, err
			}
		}
		var text string
		err := c.QueryRow(ctx, "SELECT ("+engine.CatalogQuery+")::text").Scan(&text)
		if c != conn {
			closeConn(ctx, c)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read the new primary's catalog of database %s: %w", db, err)
		}
		var d engine.CatalogDatabase
		if err := json.Unmarshal([]byte(text), &d); err != nil {
			return nil, 0, fmt.Errorf("read the new primary's catalog of database %s: %w", db, err)
		}
		cat.Databases = append(cat.Databases, d)
	}
	return cat, tli, nil
}

// dialThroughHost connects to conninfo (database db when not "") from the
// bastion, through the host's connection, leaving name resolution to the
// host as the sql step does.
func dialThroughHost(ctx context.Context, t *runbook.Target, conninfo, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redactConninfo(conninfo), redact(err, conninfo, nil))
	}
	if db != "" {
		cfg.Database = db
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.Conn.Dial(ctx, network, addr)
	}
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{host}, nil }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s database %s: %w", redactConninfo(conninfo), cfg.Database, redact(err, conninfo, cfg))
	}
	return conn, nil
}

// closeConn says goodbye without waiting long on a dead connection.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = conn.Close(cctx) // the queries' outcomes are already known
}
