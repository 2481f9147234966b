package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// defaultStallTimeout is how long a rewind or WAL staging may go without
// a sign of life before the step stops it: long enough for a slow disk's
// fsync or a large WAL scan, short enough that a hung source does not hold
// a failover for hours.
const defaultStallTimeout = 2 * time.Minute

// errStalled marks a remote engine run stopped by its stall watch.
var errStalled = errors.New("stalled")

// stallLimit is a step's stall_timeout, or the default when unset.
func stallLimit(d Duration) time.Duration {
	if d <= 0 {
		return defaultStallTimeout
	}
	return time.Duration(d)
}

// stallWatch cancels a run when it prints nothing, neither a progress
// line nor any other output line, for limit. Any line is a sign of life:
// only a process that says nothing at all (a source that stopped
// answering, a hung disk) is stopped.
type stallWatch struct {
	limit  time.Duration
	what   string
	cancel context.CancelFunc
	timer  *time.Timer

	mu      sync.Mutex
	last    runbook.Progress
	stalled bool
}

// watchStall returns a context that is cancelled when the watch fires;
// limit 0 watches nothing. what names the work ("rewind") for the error.
func watchStall(ctx context.Context, limit time.Duration, what string) (context.Context, *stallWatch) {
	ctx, cancel := context.WithCancel(ctx)
	w := &stallWatch{limit: limit, what: what, cancel: cancel}
	if limit > 0 {
		w.timer = time.AfterFunc(limit, w.fire)
	}
	return ctx, w
}

func (w *stallWatch) fire() {
	w.mu.Lock()
	w.stalled = true
	w.mu.Unlock()
	// Cancelling the context makes the transport kill the remote process.
	w.cancel()
}

// alive records a sign of life, and the latest progress when p is set.
func (w *stallWatch) alive(p *runbook.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p != nil {
		w.last = *p
	}
	if w.timer != nil && !w.stalled {
		w.timer.Reset(w.limit)
	}
}

// stop ends the watch and releases its context.
func (w *stallWatch) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel()
}

// err is the stall error when the watch fired, else nil.
func (w *stallWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stalled {
		return nil
	}
	at := "before its first progress report"
	if w.last.Phase != "" {
		at = "at phase " + w.last.Phase
		if w.last.Total > 0 || w.last.Done > 0 {
			at += fmt.Sprintf(" (%d of %d %s)", w.last.Done, w.last.Total, w.last.Unit)
		}
	}
	return fmt.Errorf("%s %w: no progress for %s %s; the process was stopped and the node keeps its interrupted "+
		"state (a rewind's marker keeps the server from starting): rerun the playbook", w.what, errStalled, w.limit, at)
}

// stallSubject names a run for its stall error: pgrunbook's subcommand
// (rewind, wal-stage) or another program's name.
func stallSubject(argv []string) string {
	if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
		return argv[1]
	}
	if len(argv) > 0 {
		return path.Base(argv[0])
	}
	return "run"
}
