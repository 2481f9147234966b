package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine/source/stream"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// startTimeSlack is how much later than postmaster.pid's start time
// pg_postmaster_start_time() may be: PostgreSQL writes the file early in
// the postmaster's start, in whole seconds, and takes the start time only
// after shared memory is set up, which can take a while with huge pages.
const startTimeSlack = time.Minute

// checkStreamIdentity refuses a stream server that does not serve the
// running cluster the SQL connection reaches: another cluster (system
// identifier), a stopped copy or a standby of it (no postmaster.pid, or
// another postmaster's start time or port). The system identifier comes
// from pg_control over SQL, which the rewind needs anyway and so is always
// readable; the start time and port are checked when the role may read
// them, and otherwise skipped with a warning.
func (r *run) checkStreamIdentity(ctx context.Context, id stream.Identity) error {
	refuse := func(format string, args ...any) error {
		return &Error{
			Msg: fmt.Sprintf("stream server at %s (PGDATA %s) does not serve the server --source-server reaches: ",
				r.opts.SourceStream, id.DataDir) + fmt.Sprintf(format, args...),
			Detail: "--source-stream must reach the same server as --source-server " + serverAddress(r.opts.SourceConninfo) +
				" (run rewind-serve as that server's OS user on its own PGDATA)",
		}
	}
	b, err := r.src.FetchFile(ctx, target.ControlFilePath)
	if err != nil {
		return err
	}
	cf, err := parseControl(b, "source")
	if err != nil {
		return err
	}
	if cf.SystemIdentifier != id.SystemIdentifier {
		return refuse("system identifier %d there, %d over SQL", id.SystemIdentifier, cf.SystemIdentifier)
	}
	if !id.Running {
		return refuse("its PGDATA has no postmaster.pid (a stopped cluster, not the running server)")
	}
	start, port, warnings, err := querySourceIdentity(ctx, r.opts.SourceConninfo)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		r.infof("warning: %s; the stream server's is not checked", w)
	}
	if !start.IsZero() {
		lag := start.Sub(id.StartTime)
		if lag < -time.Second || lag > startTimeSlack {
			return refuse("postmaster started at %s there (postmaster.pid), at %s over SQL (pg_postmaster_start_time())",
				id.StartTime.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339Nano))
		}
	}
	if port != 0 && port != id.Port {
		return refuse("port %d there (postmaster.pid), %d over SQL (SHOW port)", id.Port, port)
	}
	return nil
}

// querySourceIdentity asks the source server for its postmaster's start
// time and port on a connection of its own. What the role may not read is
// returned as a warning with a zero value.
func querySourceIdentity(ctx context.Context, conninfo string) (time.Time, int, []string, error) {
	conn, err := pgx.Connect(ctx, conninfo)
	if err != nil {
		return time.Time{}, 0, nil, fmt.Errorf("connect to the source server %s to check the stream server: %w", serverAddress(conninfo), err)
	}
	defer conn.Close(context.Background())
	var warnings []string
	var start time.Time
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time()").Scan(&start); err != nil {
		warnings = append(warnings, fmt.Sprintf("could not read pg_postmaster_start_time() on the source server: %v", err))
		start = time.Time{}
	}
	var text string
	port := 0
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('port')").Scan(&text); err != nil {
		warnings = append(warnings, fmt.Sprintf("could not read the port of the source server: %v", err))
	} else if port, err = strconv.Atoi(text); err != nil {
		warnings = append(warnings, fmt.Sprintf("the source server's port %q is not a number", text))
		port = 0
	}
	return start, port, warnings, nil
}
