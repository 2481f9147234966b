package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ConnString is a libpq connection string that reaches this cluster through
// its unix socket as user, on the postgres database. It carries no password
// (the clusters trust local connections).
func (c *Cluster) ConnString(user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", quoteConnValue(c.SocketDir), c.Port, quoteConnValue(user))
}

// TCPConnString is a libpq connection string that reaches this cluster over
// TCP, at the first of its listen addresses, as user on the postgres
// database: the form another host (a lab namespace) would use.
func (c *Cluster) TCPConnString(user string) string {
	host, _, _ := strings.Cut(c.ListenAddresses, ",")
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", quoteConnValue(strings.TrimSpace(host)), c.Port, quoteConnValue(user))
}

// quoteConnValue quotes a libpq keyword value when it is empty or holds a
// space, a quote or a backslash, which would otherwise end or bend it.
func quoteConnValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// connect opens a connection to db as the superuser.
func (c *Cluster) connect(ctx context.Context, db string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		quoteConnValue(c.SocketDir), c.Port, Superuser, quoteConnValue(db)))
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s: %w", c.Name, err)
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s database %s: %w", c.Name, db, err)
	}
	return conn, nil
}

// Query runs sql on database db as the superuser, with the simple protocol,
// and returns every row of every result as text, exactly as psql -At would
// print the values (NULL is the empty string). Several statements separated
// by semicolons run in one implicit transaction, as with psql -c.
func (c *Cluster) Query(ctx context.Context, db, sql string) ([][]string, error) {
	conn, err := c.connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("query %s database %s: %w", c.Name, db, err)
	}
	var rows [][]string
	for _, r := range results {
		for _, raw := range r.Rows {
			row := make([]string, len(raw))
			for i, v := range raw {
				row[i] = string(v)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// QueryValue runs sql and returns the single value of its single row.
func (c *Cluster) QueryValue(ctx context.Context, db, sql string) (string, error) {
	rows, err := c.Query(ctx, db, sql)
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return "", fmt.Errorf("query %s database %s: want one value, got %d rows", c.Name, db, len(rows))
	}
	return rows[0][0], nil
}

// Exec runs sql on database db as the superuser and discards any rows.
// Statements that refuse transaction blocks (CREATE DATABASE, VACUUM) must
// be sent alone.
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	_, err := c.Query(ctx, db, sql)
	return err
}

// LSN is a WAL position.
type LSN uint64

// ParseLSN parses the X/Y text form PostgreSQL prints.
func ParseLSN(s string) (LSN, error) {
	var hi, lo string
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			hi, lo = s[:i], s[i+1:]
			break
		}
	}
	if hi == "" || lo == "" {
		return 0, fmt.Errorf("parse LSN %q: want X/Y", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse LSN %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// String prints the LSN as PostgreSQL 15 does.
func (l LSN) String() string {
	return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xffffffff)
}
