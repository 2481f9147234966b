package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// fetchStatement reads one chunk per requested (path, offset, length); the
// arrays keep the request order, which the reader checks.
const fetchStatement = `SELECT path, begin,
  pg_read_binary_file(path, begin, len, true) AS chunk
FROM unnest ($1::text[], $2::int8[], $3::int4[]) AS x(path, begin, len)`

const fetchStatementName = "fetch_chunks_stmt"

// sessionSettings make the session immune to server-side timeouts (a long
// fetch must not be cut off) and read-only, to keep the rewind honest. An
// attacker-controlled search_path must not redirect the unqualified names
// of the queries that follow, so it is emptied too.
var sessionSettings = []string{
	"SET statement_timeout = 0",
	"SET lock_timeout = 0",
	"SET idle_in_transaction_session_timeout = 0",
	"SET default_transaction_read_only = on",
	"SELECT pg_catalog.set_config('search_path', '', false)",
}

// RequiredFunctions are the functions the source role must be able to
// execute; all four are revoked from PUBLIC by default.
var RequiredFunctions = []string{
	"pg_catalog.pg_ls_dir(text,boolean,boolean)",
	"pg_catalog.pg_stat_file(text,boolean)",
	"pg_catalog.pg_read_binary_file(text)",
	"pg_catalog.pg_read_binary_file(text,bigint,bigint,boolean)",
}

// ErrFullPageWrites is returned when the source runs without full page
// writes: pages read while they change can be torn, and only full page
// images in the WAL replayed after the rewind repair them.
var ErrFullPageWrites = errors.New("full_page_writes must be enabled in the source server")

// checkQueries are asked on the first connection only, after the session
// settings: full_page_writes is server-wide and the privileges belong to
// the role, which every connection shares. The function signatures are
// constants, so they are written into the text as literals.
func checkQueries() []string {
	lits := make([]string, len(RequiredFunctions))
	for i, f := range RequiredFunctions {
		lits[i] = "'" + f + "'"
	}
	return []string{
		"SHOW full_page_writes",
		"SELECT f, pg_catalog.has_function_privilege(f, 'EXECUTE') FROM pg_catalog.unnest(ARRAY[" +
			strings.Join(lits, ", ") + "]::pg_catalog.text[]) AS f",
	}
}

// connect opens one connection and prepares it for the rewind; first
// also runs the checks that need running once.
func (s *Source) connect(ctx context.Context, first bool) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config.Copy())
	if err != nil {
		return nil, s.red.wrap("connect", err)
	}
	if err := s.setup(ctx, conn, first); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// setup runs the session settings (and on the first connection the
// checks) as one multi-statement simple query, one round trip, then
// prepares the fetch statement.
func (s *Source) setup(ctx context.Context, conn *pgx.Conn, first bool) error {
	queries := sessionSettings
	if first {
		queries = append(append([]string(nil), sessionSettings...), checkQueries()...)
	}
	results, err := conn.PgConn().Exec(ctx, strings.Join(queries, "; ")).ReadAll()
	if err != nil {
		return s.red.wrap("prepare the session (timeouts off, read-only, empty search_path)", err)
	}
	if len(results) != len(queries) {
		return fmt.Errorf("prepare the session on source server \"%s\": %d results for %d statements",
			s.red.conninfo, len(results), len(queries))
	}
	if first {
		if err := s.check(results[len(sessionSettings):]); err != nil {
			return err
		}
	}
	if _, err := conn.Prepare(ctx, fetchStatementName, fetchStatement); err != nil {
		return s.red.wrap("prepare statement to fetch file contents", err)
	}
	return nil
}

// check reads the answers of checkQueries: full_page_writes must be on,
// and every missing grant is named up front, instead of letting the
// listing fail later with a bare "permission denied".
func (s *Source) check(results []*pgconn.Result) error {
	fpw := results[0].Rows
	if len(fpw) != 1 || len(fpw[0]) != 1 {
		return fmt.Errorf("run \"SHOW full_page_writes\" on source server \"%s\": unexpected result", s.red.conninfo)
	}
	if string(fpw[0][0]) != "on" {
		return ErrFullPageWrites
	}
	var missing []string
	for _, row := range results[1].Rows {
		if len(row) != 2 {
			return fmt.Errorf("check function privileges on source server \"%s\": unexpected result", s.red.conninfo)
		}
		if string(row[1]) != "t" {
			missing = append(missing, string(row[0]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("source server role %q lacks EXECUTE on %s (grant it on the source server \"%s\", or use a superuser)",
			s.config.User, strings.Join(missing, ", "), s.red.conninfo)
	}
	return nil
}

// usesTLS tells whether conn is encrypted.
func usesTLS(conn *pgx.Conn) bool {
	_, ok := conn.PgConn().Conn().(*tls.Conn)
	return ok
}

// learnTLS keeps later connections from paying a refused TLS attempt
// again. Under sslmode=prefer (libpq's and pgx's default) every connection
// first asks for TLS and, when the server refuses, connects anew in plain
// text. Once the first connection to a single server went plain, the
// server refused TLS, which the user's sslmode allowed: the other
// connections go plain at once. With several hosts nothing changes, as
// the next host may well speak TLS.
func learnTLS(cfg *pgx.ConnConfig, secure bool) {
	if secure {
		return
	}
	cands := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	var plain *pgconn.FallbackConfig
	for _, c := range cands {
		if c.Host != cfg.Host || c.Port != cfg.Port {
			return
		}
		if c.TLSConfig == nil && plain == nil {
			plain = c
		}
	}
	if plain == nil {
		return
	}
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
}
