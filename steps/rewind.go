package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/source/stream"
	"github.com/pgrunbook/pgrunbook/runbook"
)

var _ runbook.Validator = (*Rewind)(nil)

// Rewind makes the data directory of a failed-over primary follow the new
// primary, with pgrunbook's own engine shipped to the host (or the host's
// pg_rewind).
//
//	rewind: {pgdata: /var/lib/postgresql/15/main, source_server: "host=10.77.0.12 user=rewind dbname=postgres"}
//
// It first asks the engine whether a rewind is needed at all (`pgrunbook
// wal-stage --check-only`: control files, timeline histories and the
// target's latest checkpoint record, no data): a node that was already
// rewound, or never went past the divergence, is ok. With engine pg_rewind
// on a major version the engine cannot read, that check is `pg_rewind -n`
// instead. The engine binary is shipped to remote_dir even under --check:
// it is the inspection tool; the data directory is left alone. A running server is
// refused (stop it with pg_stop first). Under --check the step reports the
// divergence it would rewind from. The engine runs as the become user; the
// password of source_server reaches it through a passfile, never its
// command line. Its JSON report is in Facts["report"], and a copy goes to
// report_dir on the bastion when that is set.
type Rewind struct {
	// PGData is the data directory to rewind.
	PGData string `yaml:"pgdata"`
	// SourceServer is the conninfo of the new primary.
	SourceServer string `yaml:"source_server"`
	// Engine is native (default: the shipped pgrunbook) or pg_rewind (the
	// host's own, from bin_dir).
	Engine string `yaml:"engine"`
	// Jobs is the number of parallel fetch connections (native only).
	Jobs int `yaml:"jobs"`
	// ConfigFile is the target's postgresql.conf when outside PGDATA.
	ConfigFile string `yaml:"config_file"`
	// BinDir holds the host's PostgreSQL binaries; default
	// /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// WriteRecoveryConf passes -R. It is refused with a password in
	// source_server: the written primary_conninfo would point at the
	// step's temporary passfile (use the recovery step instead).
	WriteRecoveryConf bool `yaml:"write_recovery_conf"`
	// RestoreTargetWAL passes -c (fetch missing WAL with the target's
	// restore_command); staging it with wal_stage first is the other way.
	RestoreTargetWAL bool `yaml:"restore_target_wal"`
	// Timeout bounds the whole step (default: none).
	Timeout Duration `yaml:"timeout"`
	// StallTimeout stops the engine when it prints no progress for that
	// long (default 2m): the step fails and the node keeps its
	// interrupted state for a rerun.
	StallTimeout Duration `yaml:"stall_timeout"`
	// ReportDir, when set, is a directory on the bastion that keeps a copy
	// of every rewind report.
	ReportDir string `yaml:"report_dir"`
	// KeepConfig keeps the node's own configuration set (postgresql.conf,
	// pg_hba.conf, pg_ident.conf, postgresql.auto.conf, top-level *.crt,
	// *.key, *.pem) instead of the new primary's copies (default true;
	// false is pg_rewind's behaviour). Under --check --diff, false shows
	// the diff of every such file the rewind would replace.
	KeepConfig *bool `yaml:"keep_config"`
	// SourceHost, when set, is the inventory name of the new primary: the
	// step runs `pgrunbook rewind-serve` there and the engine fetches the
	// file data it needs as a zstd-compressed stream, relayed through the
	// bastion's SSH connections to both hosts (listings, pg_control and
	// timeline histories still come over source_server). When the host
	// cannot be reached or the stream cannot be set up, the rewind fetches
	// over SQL and an output line says why. Native engine only.
	SourceHost string `yaml:"source_host"`
	// SourcePGData is the new primary's data directory; default that
	// host's pgdata variable, else pgdata.
	SourcePGData string `yaml:"source_pgdata"`
	// StreamCompress is the stream's compression: always (the default:
	// every byte relayed costs SSH at three hosts, see streamCompress),
	// auto (rewind-serve compresses while its socket is slower than its
	// compressors) or never. It passes --source-stream-compress; needs
	// source_host.
	StreamCompress string `yaml:"stream_compress"`
	// Faithful passes --faithful: the engine copies exactly what pg_rewind
	// 15 copies, including what recovery never reads (WAL before the redo
	// point and recycled WAL segments past the source's position, unlogged
	// relations' forks, temporary files). Default false. Native engine
	// only: the host's pg_rewind is faithful anyway and knows no such flag.
	Faithful bool `yaml:"faithful"`
	// EngineBinary is the bastion path of the pgrunbook binary to ship;
	// default this executable, or its pgrunbook-<os>-<arch> sibling for
	// another platform.
	EngineBinary string `yaml:"engine_binary"`
}

// Validate checks the required parameters and the engine.
func (s *Rewind) Validate() error {
	switch {
	case s.PGData == "":
		return errors.New("pgdata is required")
	case s.SourceServer == "":
		return errors.New("source_server is required")
	case s.Engine != "" && s.Engine != "native" && s.Engine != "pg_rewind":
		return fmt.Errorf("engine %q must be native or pg_rewind", s.Engine)
	case s.Jobs < 0:
		return fmt.Errorf("jobs %d must not be negative", s.Jobs)
	case s.SourcePGData != "" && s.SourceHost == "":
		return errors.New("source_pgdata needs source_host")
	case s.SourceHost != "" && s.Engine == "pg_rewind":
		return errors.New("source_host streams to the native engine only: pg_rewind fetches over SQL (drop source_host or use engine: native)")
	case s.StreamCompress != "" && s.SourceHost == "":
		return errors.New("stream_compress needs source_host")
	case s.Faithful && s.Engine == "pg_rewind":
		return errors.New("faithful is for the native engine only: pg_rewind always copies everything (drop faithful or use engine: native)")
	}
	if _, err := stream.ParseCompression(s.StreamCompress); err != nil {
		return fmt.Errorf("stream_compress: %w", err)
	}
	if s.WriteRecoveryConf {
		if _, pw, err := splitPassword(s.SourceServer); err != nil || pw != "" {
			return errors.New("write_recovery_conf with a password in source_server would write the step's temporary " +
				"passfile into primary_conninfo: set primary_conninfo with the recovery step instead")
		}
	}
	return nil
}

// Run decides whether a rewind is needed, then rewinds.
func (s *Rewind) Run(ctx context.Context, t *runbook.Target) (_ runbook.Outcome, err error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("rewind: %w", err)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.Timeout))
		defer cancel()
	}
	d, err := pgVersion(ctx, t, s.PGData, s.BinDir)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rewind: %w", err)
	}
	e := newRemoteEngine(t, s.EngineBinary)
	e.stall = stallLimit(s.StallTimeout)
	// The stream from source_host is opened while the step finds out
	// whether it needs it; a step that ends without using it stops it
	// again. Under --check nothing is started on the new primary.
	var setup *streamSetup
	if !t.Check {
		setup = s.prepareStream(ctx, t, e)
	}
	defer func() {
		if derr := setup.discard(); derr != nil {
			err = errors.Join(err, fmt.Errorf("rewind %s: stop the unused stream from %s: %w", s.PGData, s.SourceHost, derr))
		}
	}()
	// An interrupted rewind (its marker next to PGDATA) must be finished
	// whatever a need-check would say: the data directory is half the old
	// primary's and half the new one's, and its pg_wal may hold torn
	// copies that only the rewind's own resume puts right.
	_, interrupted, err := readFile(ctx, t, engine.MarkerPath(s.PGData))
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: read rewind marker: %w", s.PGData, err)
	}
	check := &engineRun{Report: map[string]any{"rewind_needed": true, "resumed": true}}
	div := "resuming an interrupted rewind (marker " + engine.MarkerPath(s.PGData) + ")"
	if !interrupted {
		check, err = e.runEngine(ctx, "", s.checkArgs(), s.SourceServer)
		if err != nil && s.Engine == "pg_rewind" && strings.Contains(err.Error(), errEngineIncompatible) {
			return s.runHostOnly(ctx, t, e, d)
		}
		if err != nil {
			return runbook.Outcome{}, fmt.Errorf("rewind %s: decide whether a rewind is needed: %w", s.PGData, redact(err, s.SourceServer, nil))
		}
		div = divergenceText(check.Report)
	}
	facts := map[string]any{"check": check.Report, "command": strings.Join(check.Argv, " ")}
	if needed, _ := check.Report["rewind_needed"].(bool); !needed {
		return runbook.Outcome{Msg: joinNonEmpty(div, "no rewind required"), Facts: facts}, nil
	}
	if t.Check {
		return s.checkOutcome(ctx, t, joinNonEmpty("would rewind", div), facts)
	}
	running, err := d.running(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: %w", s.PGData, err)
	}
	if running {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: the server is running (%s): stop it cleanly first (pg_stop)", s.PGData, div)
	}
	program, args := "", s.rewindArgs()
	if s.Engine == "pg_rewind" {
		program, args = d.bin("pg_rewind"), s.pgRewindArgs()
	}
	stream := s.takeStream(t, setup, facts)
	if stream != nil {
		args = append(args, stream.Args...)
		// The token's private directory serves the run's passfile and
		// report too: one directory to make and remove, not two.
		e.workDir = stream.tokenDir
		defer func() { e.workDir = nil }()
	}
	started := time.Now()
	out, kept, err := s.runKeepingConfig(ctx, t, e, program, args)
	if out != nil {
		facts["command"] = strings.Join(out.Argv, " ")
	}
	if stream != nil {
		if err != nil {
			err = stream.explain(err)
		}
		err = errors.Join(err, stream.close())
	}
	if err != nil {
		return runbook.Outcome{Facts: facts}, fmt.Errorf("rewind %s: %w", s.PGData, redact(err, s.SourceServer, nil))
	}
	rep := out.Report
	if rep == nil {
		// pg_rewind writes no report: the check's findings stand in.
		rep = check.Report
		rep["engine"] = "pg_rewind"
		rep["duration_ms"] = time.Since(started).Milliseconds()
		if kept != nil {
			rep["kept_config"] = kept
		}
	}
	return s.finish(t, rep, div, facts)
}

// errEngineIncompatible is the engine's refusal of a major version it has
// no checked layout for (pg_rewind's wording).
const errEngineIncompatible = "clusters are not compatible with this version of pg_rewind"

// finish exposes the report, keeps a copy in report_dir and sums it up.
func (s *Rewind) finish(t *runbook.Target, rep map[string]any, div string, facts map[string]any) (runbook.Outcome, error) {
	facts["report"] = rep
	msg := joinNonEmpty(rewindSummary(rep, div), transferSummary(rep), keptSummary(rep))
	if p, err := keepReport(s.ReportDir, t, "rewind", rep); err != nil {
		return runbook.Outcome{Changed: true, Msg: msg, Facts: facts}, fmt.Errorf("rewind %s: %w", s.PGData, err)
	} else if p != "" {
		facts["report_file"] = p
	}
	return runbook.Outcome{Changed: true, Msg: msg, Facts: facts}, nil
}

// checkArgs asks the engine for the need-check only.
func (s *Rewind) checkArgs() []string {
	args := []string{"wal-stage", "--check-only", "--target-pgdata=" + s.PGData}
	if s.ConfigFile != "" {
		args = append(args, "--config-file="+s.ConfigFile)
	}
	return args
}

// rewindArgs are pgrunbook rewind's arguments (pg_rewind's syntax).
func (s *Rewind) rewindArgs() []string {
	args := append([]string{"rewind"}, s.commonArgs()...)
	if s.keepConfig() {
		args = append(args, "--keep-config")
	}
	if s.Faithful {
		args = append(args, "--faithful")
	}
	if s.Jobs > 0 {
		args = append(args, "--jobs="+strconv.Itoa(s.Jobs))
	}
	if s.BinDir != "" {
		args = append(args, "--pg-bin-dir="+s.BinDir)
	}
	return args
}

// pgRewindArgs are the host pg_rewind's arguments; -P streams its progress
// as output lines.
func (s *Rewind) pgRewindArgs() []string {
	return append(s.commonArgs(), "-P")
}

func (s *Rewind) commonArgs() []string {
	args := []string{"--target-pgdata=" + s.PGData}
	if s.WriteRecoveryConf {
		args = append(args, "-R")
	}
	if s.RestoreTargetWAL {
		args = append(args, "-c")
	}
	if s.ConfigFile != "" {
		args = append(args, "--config-file="+s.ConfigFile)
	}
	return args
}

// divergenceText describes a report's divergence point.
func divergenceText(rep map[string]any) string {
	div, ok := rep["divergence"].(map[string]any)
	if !ok {
		return ""
	}
	return fmt.Sprintf("servers diverged at %v on timeline %v", div["lsn"], div["timeline"])
}

// rewindSummary is the step's one-line message after a rewind.
func rewindSummary(rep map[string]any, div string) string {
	parts := []string{"rewound"}
	if div != "" {
		parts = append(parts, div)
	}
	if b, ok := rep["bytes_fetched"].(float64); ok {
		parts = append(parts, fmt.Sprintf("fetched %d bytes", int64(b)))
	}
	if ms, ok := rep["duration_ms"]; ok {
		parts = append(parts, fmt.Sprintf("in %v ms", ms))
	}
	return strings.Join(parts, ", ")
}

// joinNonEmpty joins the non-empty parts with "; ".
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}
