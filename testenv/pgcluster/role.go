package pgcluster

import (
	"context"
	"fmt"
)

// rewindGrants are the four functions a non-superuser pg_rewind source role
// must be able to execute (PostgreSQL 11+); all are revoked from PUBLIC by
// default.
var rewindGrants = []string{
	"pg_catalog.pg_ls_dir(text, boolean, boolean)",
	"pg_catalog.pg_stat_file(text, boolean)",
	"pg_catalog.pg_read_binary_file(text)",
	"pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
}

// CreateRewindRole creates a LOGIN role that can serve as pg_rewind's
// --source-server user: exactly the four EXECUTE grants and nothing more (no
// superuser, no REPLICATION; grant that separately for streaming).
func (c *Cluster) CreateRewindRole(ctx context.Context, name string) error {
	ident, err := c.QueryValue(ctx, "postgres", "SELECT quote_ident('"+escapeLiteral(name)+"')")
	if err != nil {
		return fmt.Errorf("create rewind role %s on %s: %w", name, c.Name, err)
	}
	sql := "CREATE ROLE " + ident + " LOGIN;\n"
	for _, f := range rewindGrants {
		sql += "GRANT EXECUTE ON FUNCTION " + f + " TO " + ident + ";\n"
	}
	if err := c.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("create rewind role %s on %s: %w", name, c.Name, err)
	}
	return nil
}

// escapeLiteral doubles single quotes for use inside a SQL string literal.
func escapeLiteral(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
