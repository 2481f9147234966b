package engine

import (
	"context"
	"io"
	"os/exec"
	"strings"
)

// ensureCleanShutdown finishes an unclean shutdown of the target by
// running crash recovery in single-user mode, as pg_rewind 13+ does: the
// rewind needs the target's WAL to end at a shutdown checkpoint it can
// find from pg_control. fsync is off (-F) because the final sync covers
// every file. It fails if a server still runs on the target (lock file)
// or the target has standby.signal. Under --dry-run it only says what it
// would run; the sanity check then refuses the unclean target.
func (r *run) ensureCleanShutdown(ctx context.Context) error {
	pg, err := r.postgres(ctx)
	if err != nil {
		return err
	}
	r.infof("executing \"%s\" for target server to complete crash recovery", pg)
	if r.opts.DryRun {
		return nil
	}
	r.progress.phase(PhaseCrashRecovery, 0)
	args := append([]string{"--single", "-F", "-D", r.opts.TargetDir}, r.configArgs()...)
	args = append(args, "template1")
	cmd := exec.CommandContext(ctx, pg, args...)
	cmd.Stdin = nil // /dev/null: the backend reads commands from stdin and must see EOF at once
	cmd.Stdout, cmd.Stderr = orDiscard(r.opts.ChildStdout), orDiscard(r.opts.ChildStderr)
	if err := cmd.Run(); err != nil {
		return &Error{
			Msg:    "postgres single-user mode in target cluster failed",
			Detail: "Command was: " + pg + " " + strings.Join(args, " ") + " < /dev/null",
			Err:    err,
		}
	}
	return r.readTargetControl()
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
