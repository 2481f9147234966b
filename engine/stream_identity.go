package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/source/stream"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// postmasterSource is a source that can say which running postmaster it
// reaches (the SQL source, remote.Source), asked on the connection it
// already has.
type postmasterSource interface {
	Postmaster(ctx context.Context) (start time.Time, port int, warnings []string)
}

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
	pm, ok := r.src.(postmasterSource)
	if !ok {
		return fmt.Errorf("check the stream server: the source %T cannot say which postmaster it is", r.src)
	}
	start, port, warnings := pm.Postmaster(ctx)
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
