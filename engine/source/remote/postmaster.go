package remote

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postmaster asks the server, on the connection the rewind already has,
// when its postmaster started and which port it listens on: what tells
// one running server from a copy of its data directory. What the role may
// not read is returned as a warning with a zero value, never as an error.
func (s *Source) Postmaster(ctx context.Context) (start time.Time, port int, warnings []string) {
	conn := s.conns[0]
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time()",
		pgx.QueryExecModeSimpleProtocol).Scan(&start); err != nil {
		warnings = append(warnings, fmt.Sprintf("could not read pg_postmaster_start_time() on the source server: %s", s.red.scrub(err.Error())))
		start = time.Time{}
	}
	var text string
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('port')",
		pgx.QueryExecModeSimpleProtocol).Scan(&text); err != nil {
		warnings = append(warnings, fmt.Sprintf("could not read the port of the source server: %s", s.red.scrub(err.Error())))
	} else if p, err := strconv.Atoi(text); err != nil {
		warnings = append(warnings, fmt.Sprintf("the source server's port %q is not a number", text))
	} else {
		port = p
	}
	return start, port, warnings
}
