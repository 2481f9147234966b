package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// Options tune a remote source.
type Options struct {
	// Jobs is the number of connections fetching in parallel (--jobs);
	// values below 1 mean 1.
	Jobs int
	// OnDemand opens the further job connections only when a fetch needs
	// them, instead of in the background from Open on: for a source whose
	// file contents normally come another way (a stream server) and whose
	// Fetch is only a fallback.
	OnDemand bool
	// Debugf, when set, receives pg_rewind's --debug messages about the
	// fetch ("getting N file chunks", "received chunk for file ...").
	Debugf func(format string, args ...any)
}

// Source reads a live server's data directory over SQL. Its methods must
// not be called concurrently; Fetch parallelises internally.
type Source struct {
	config *pgx.ConnConfig
	red    redactor
	jobs   int
	debug  func(format string, args ...any)

	mu    sync.Mutex // serialises Debugf calls from parallel fetches
	conns []*pgx.Conn

	// warm delivers the job connections opened in the background since
	// Open; nil once taken. stopWarm cancels their opening.
	warm     chan warmed
	stopWarm context.CancelFunc
}

var _ source.Source = (*Source)(nil)

// Open connects to the source server described by conninfo (a libpq
// keyword/value string or URI), prepares the session and checks
// full_page_writes and the role's privileges. With Jobs > 1 the further
// connections for parallel fetches open in the background meanwhile, in
// parallel, so that the fetch finds them ready (unless Options.OnDemand);
// a failure to open them is reported by the fetch that needs them.
func Open(ctx context.Context, conninfo string, opts Options) (*Source, error) {
	s := &Source{jobs: max(opts.Jobs, 1), debug: opts.Debugf}
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		s.red = newRedactor(conninfo, "")
		return nil, s.red.wrap("parse connection string", err)
	}
	s.config = cfg
	s.red = newRedactor(conninfo, cfg.Password)
	conn, err := s.connect(ctx, true)
	if err != nil {
		return nil, err
	}
	learnTLS(s.config, usesTLS(conn))
	s.conns = []*pgx.Conn{conn}
	if !opts.OnDemand {
		s.startWarm(ctx)
	}
	return s, nil
}

// Conninfo is the connection string with its password masked, for logs.
func (s *Source) Conninfo() string { return s.red.conninfo }

func (s *Source) debugf(format string, args ...any) {
	if s.debug == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.debug(format, args...)
}

// FetchFile reads a whole file with pg_read_binary_file(path), which fails
// if the file is missing.
func (s *Source) FetchFile(ctx context.Context, path string) ([]byte, error) {
	var data []byte
	// A one-off statement: run unnamed, without a preparing round trip.
	err := s.conns[0].QueryRow(ctx, "SELECT pg_catalog.pg_read_binary_file($1)",
		pgx.QueryExecModeExec, path).Scan(&data)
	if err != nil {
		return nil, s.red.wrap(fmt.Sprintf("could not fetch remote file \"%s\"", path), err)
	}
	if data == nil {
		return nil, fmt.Errorf("unexpected result set while fetching remote file \"%s\"", path)
	}
	s.debugf("fetched file \"%s\", length %d", path, len(data))
	return data, nil
}

// CurrentInsertLSN asks a primary for pg_current_wal_insert_lsn().
func (s *Source) CurrentInsertLSN(ctx context.Context) (uint64, error) {
	var text string
	if err := s.conns[0].QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text",
		pgx.QueryExecModeSimpleProtocol).Scan(&text); err != nil {
		return 0, s.red.wrap("get current WAL insert location", err)
	}
	lsn, err := parseLSN(text)
	if err != nil {
		return 0, fmt.Errorf("unrecognized result \"%s\" for current WAL insert location", text)
	}
	return lsn, nil
}

// walPositionSQL asks for the primary's insert location, or a standby's
// furthest received or replayed location: every WAL file the standby
// holds with WAL of its history ends at or before it. GREATEST skips the
// NULL of a location the standby does not have (no walreceiver).
const walPositionSQL = `SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
	THEN GREATEST(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())
	ELSE pg_catalog.pg_current_wal_insert_lsn() END::pg_catalog.text`

// WALPosition asks the server how far its WAL reaches now: the insert
// location of a primary, the furthest received or replayed location of a
// standby.
func (s *Source) WALPosition(ctx context.Context) (uint64, error) {
	var text *string
	if err := s.conns[0].QueryRow(ctx, walPositionSQL, pgx.QueryExecModeSimpleProtocol).Scan(&text); err != nil {
		return 0, s.red.wrap("get current WAL position", err)
	}
	if text == nil {
		return 0, errors.New("get current WAL position: the server knows none")
	}
	lsn, err := parseLSN(*text)
	if err != nil {
		return 0, fmt.Errorf("unrecognized result \"%s\" for current WAL position", *text)
	}
	return lsn, nil
}

// parseLSN reads "%X/%X" (also the zero-padded form PostgreSQL 18 prints).
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, errors.New("no slash")
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, err
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, err
	}
	return h<<32 | l, nil
}

// Close closes every connection, those still opening in the background
// too.
func (s *Source) Close(ctx context.Context) error {
	s.takeWarm(ctx, true)
	var first error
	for _, c := range s.conns {
		if err := c.Close(ctx); err != nil && first == nil {
			first = s.red.wrap("close connection", err)
		}
	}
	s.conns = nil
	return first
}
