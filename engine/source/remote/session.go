package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// fetchStatement reads one chunk per requested (path, offset, length); the
// arrays keep the request order, which the reader checks.
const fetchStatement = `SELECT path, begin,
  pg_read_binary_file(path, begin, len, true) AS chunk
FROM unnest ($1::text[], $2::int8[], $3::int4[]) AS x(path, begin, len)`

const fetchStatementName = "fetch_chunks_stmt"

// sessionSettings make the session immune to server-side timeouts (a long
// fetch must not be cut off) and read-only, to keep the rewind honest.
var sessionSettings = []string{
	"SET statement_timeout = 0",
	"SET lock_timeout = 0",
	"SET idle_in_transaction_session_timeout = 0",
	"SET default_transaction_read_only = on",
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

// connect opens one connection and prepares it for the rewind.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config.Copy())
	if err != nil {
		return nil, s.red.wrap("connect", err)
	}
	if err := s.setup(ctx, conn); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

func (s *Source) setup(ctx context.Context, conn *pgx.Conn) error {
	for _, q := range sessionSettings {
		if _, err := conn.Exec(ctx, q); err != nil {
			return s.red.wrap(fmt.Sprintf("run %q", q), err)
		}
	}
	// An attacker-controlled search_path must not redirect the unqualified
	// names of the queries below.
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.set_config('search_path', '', false)"); err != nil {
		return s.red.wrap("clear search_path", err)
	}
	var fpw string
	if err := conn.QueryRow(ctx, "SHOW full_page_writes").Scan(&fpw); err != nil {
		return s.red.wrap("run \"SHOW full_page_writes\"", err)
	}
	if fpw != "on" {
		return ErrFullPageWrites
	}
	if err := s.checkPrivileges(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.Prepare(ctx, fetchStatementName, fetchStatement); err != nil {
		return s.red.wrap("prepare statement to fetch file contents", err)
	}
	return nil
}

// checkPrivileges names every missing grant up front, instead of letting
// the listing fail later with a bare "permission denied".
func (s *Source) checkPrivileges(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx,
		"SELECT f, pg_catalog.has_function_privilege(f, 'EXECUTE') FROM pg_catalog.unnest($1::pg_catalog.text[]) AS f",
		RequiredFunctions)
	if err != nil {
		return s.red.wrap("check function privileges", err)
	}
	var missing []string
	for rows.Next() {
		var f string
		var ok bool
		if err := rows.Scan(&f, &ok); err != nil {
			rows.Close()
			return s.red.wrap("check function privileges", err)
		}
		if !ok {
			missing = append(missing, f)
		}
	}
	if err := rows.Err(); err != nil {
		return s.red.wrap("check function privileges", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("source server role %q lacks EXECUTE on %s (grant it on the source server \"%s\", or use a superuser)",
			s.config.User, strings.Join(missing, ", "), s.red.conninfo)
	}
	return nil
}
