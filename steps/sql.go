package steps

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// closeTimeout bounds the goodbye to the server (rollback, terminate) after
// the statement, so a dead connection cannot hang the step.
const closeTimeout = 5 * time.Second

// SQL runs one statement on a PostgreSQL server. The executor connects from
// the bastion, but every connection is dialled through the host's
// connection (an SSH channel), so host=127.0.0.1 in conninfo is the host's
// own loopback and host names are resolved by the host, not the bastion.
//
//	sql: {conninfo: "host=127.0.0.1 port=5432 user=postgres dbname=postgres", query: "SELECT pg_is_in_recovery()"}
//
// A unix socket directory as host works too (over SSH it is an OpenSSH
// streamlocal channel), but the server then sees the SSH login user, not the
// become user, so peer authentication maps to the login user.
//
// The rows are registered as the facts "rows" (a list of column → value
// maps), "rowcount" and "command_tag".
type SQL struct {
	// Conninfo is a libpq connection string (keyword/value or URL).
	Conninfo string `yaml:"conninfo"`
	// Query is one SQL statement; $1, $2... refer to Args.
	Query string `yaml:"query"`
	// Args are the statement's parameters.
	Args []any `yaml:"args"`
	// Changed overrides what the step reports: by default a read-only
	// statement (SELECT, SHOW, VALUES, TABLE) reports ok and anything else
	// changed. Set it for a SELECT with side effects (pg_reload_conf()) or
	// a write known to be idempotent.
	Changed *bool `yaml:"changed"`
	// Timeout bounds the step, connecting included; a statement still
	// running then is cancelled (default: none).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks that conninfo and query are given.
func (s *SQL) Validate() error {
	switch {
	case s.Conninfo == "":
		return errors.New("conninfo is required")
	case strings.TrimSpace(s.Query) == "":
		return fmt.Errorf("%s: query is required", redactConninfo(s.Conninfo))
	}
	return nil
}

// Run connects and runs the statement. Under Check a read-only statement
// runs inside a READ ONLY transaction that is rolled back, and anything
// else is only reported.
func (s *SQL) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("sql: %w", err)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.Timeout))
		defer cancel()
	}
	subject := redactConninfo(s.Conninfo)
	readOnly := isReadOnly(s.Query)
	changed := !readOnly
	if s.Changed != nil {
		changed = *s.Changed
	}
	if t.Check && !readOnly {
		return runbook.Outcome{Changed: changed, Msg: "would run " + firstWord(s.Query) + " statement"}, nil
	}
	cfg, err := pgx.ParseConfig(s.Conninfo)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("sql %s: %w", subject, redact(err, s.Conninfo, nil))
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.Conn.Dial(ctx, network, addr)
	}
	// Leave name resolution to the host: the bastion may not know its
	// names, and the host's view is the one that matters.
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{host}, nil }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("sql %s: connect: %w", subject, redact(err, s.Conninfo, cfg))
	}
	defer func() {
		// Say goodbye even when ctx is done, but never wait long on a
		// connection that stopped answering.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx) // the statement's outcome is already known
	}()
	out, err := s.query(ctx, conn, t.Check)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("sql %s: %s statement: %w", subject, firstWord(s.Query), redact(err, s.Conninfo, cfg))
	}
	out.Changed = changed
	return out, nil
}

// query runs the statement, inside a read-only transaction when readOnly,
// and collects its rows.
func (s *SQL) query(ctx context.Context, conn *pgx.Conn, readOnly bool) (runbook.Outcome, error) {
	var q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	} = conn
	if readOnly {
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return runbook.Outcome{}, err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			defer cancel()
			_ = tx.Rollback(cctx) // a read-only transaction has nothing to keep
		}()
		q = tx
	}
	rows, err := q.Query(ctx, s.Query, s.Args...)
	if err != nil {
		return runbook.Outcome{}, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	list := []map[string]any{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return runbook.Outcome{}, err
		}
		row := make(map[string]any, len(fields))
		for i, f := range fields {
			row[f.Name] = plainValue(vals[i])
		}
		list = append(list, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return runbook.Outcome{}, err
	}
	tag := rows.CommandTag()
	// rowcount is the number of rows returned by a statement that returns
	// rows (SHOW's tag counts none) and the number affected otherwise.
	count := tag.RowsAffected()
	if len(fields) > 0 {
		count = int64(len(list))
	}
	return runbook.Outcome{
		Msg:   tag.String(),
		Facts: map[string]any{"rows": list, "rowcount": count, "command_tag": tag.String()},
	}, nil
}

// plainValue turns pgx's richer types (numeric, uuid, intervals, ...) into
// the plain values conditions and templates can compare.
func plainValue(v any) any {
	if dv, ok := v.(driver.Valuer); ok {
		if p, err := dv.Value(); err == nil {
			return p
		}
	}
	return v
}

// isReadOnly reports whether the statement's first keyword makes it a
// plain read: SELECT, SHOW, VALUES or TABLE.
func isReadOnly(query string) bool {
	switch strings.ToLower(firstWord(query)) {
	case "select", "show", "values", "table":
		return true
	}
	return false
}

// firstWord returns the statement's first keyword, skipping whitespace,
// comments and opening parentheses.
func firstWord(query string) string {
	s := query
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
			})
			if end < 0 {
				end = len(s)
			}
			return strings.ToUpper(s[:end])
		}
	}
}
