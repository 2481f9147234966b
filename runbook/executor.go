package runbook

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// ConnectFunc opens the one connection of a run to host h; vars are the
// host's merged variables (address, port, user, ssh_key, ...). Any error
// makes the host unreachable.
type ConnectFunc func(ctx context.Context, h *Host, vars map[string]any) (transport.Conn, error)

// RunOptions says what to run where, and how.
type RunOptions struct {
	// Playbook and Inventory are parsed and, normally, validated already.
	Playbook  *Playbook
	Inventory *Inventory
	// Limit, when set, is a host pattern that further restricts the
	// playbook's hosts (--limit).
	Limit string
	// Forks is how many hosts of a batch run at once; 0 means 5.
	Forks int
	// Serial, when set, overrides the playbook's serial: "N", "P%" or a
	// comma-separated list of those (see Batches).
	Serial string
	// Extra are the -e variables, above every other source.
	Extra map[string]any
	// Tags, when set, selects the steps with one of these tags (--tags);
	// SkipTags drops the steps with one of these (--skip-tags). See
	// SelectSteps for the special tags.
	Tags     []string
	SkipTags []string
	// StartAt names the step to start at (--start-at-step); the steps
	// before it are not run.
	StartAt string
	// Check and Diff are passed to every step (Target.Check, Target.Diff).
	Check bool
	Diff  bool
	// Connect opens a host's connection; nil means SSH (DialSSH with
	// SSHConfigFor).
	Connect ConnectFunc
	// Events receives the event stream; deliveries are serialized, so it
	// need not be safe for concurrent use. Nil drops the events.
	Events func(Event)
}

// DefaultForks is the number of hosts that run at once when
// RunOptions.Forks is zero.
const DefaultForks = 5

// Run runs the playbook on its hosts and returns what happened.
//
// Hosts are the playbook's pattern intersected with Limit. They run in
// serial batches, one batch after another; within a batch up to Forks hosts
// run at once, each its selected steps in order. A failed step stops its
// host (unless ignore_errors); an unreachable host stops. After each batch,
// if the hosts that failed so far exceed the playbook's
// max_fail_percentage of all hosts of the run, no further batch starts
// and Recap.Aborted says why. Each host gets one connection, opened at its
// first step that runs and closed when the run ends.
//
// Step options, per host:
//   - when: false skips the step (status skipped); the step is not
//     prepared and the host is not connected for it.
//   - register: stores rc, stdout, stderr, stdout_lines, changed, failed,
//     skipped, msg and the step's facts under the name; changed_when,
//     failed_when and until already see the current result under it.
//   - become: the step's own (even "") wins over the playbook's.
//   - retries/delay/until: the step runs again, after delay, until the
//     until condition holds, at most retries more times (3 when until is
//     set without retries); without until it runs again while it fails.
//   - changed_when and failed_when replace the step's own verdict.
//   - ignore_errors: a failure is counted (and its step_end event marked
//     Ignored) but the host goes on, and it fails neither the run nor the
//     max_fail_percentage budget; an unreachable host still stops.
//   - run_once: see batchState; the result is counted once, on the host
//     that ran it, and registered on every host of the batch.
//   - delegate_to: the step runs over the named host's connection (that
//     host's variables say how to connect) while its templates see the
//     current host's variables; events and counts belong to the current
//     host.
//   - tags, --tags, --skip-tags and --start-at-step: see SelectSteps;
//     steps they leave out produce no events and no counts.
//
// Secrets never reach the events: every event passes through the run's
// Redactor (see RunRedactor), and so does the error.
//
// The error is non-nil only when nothing ran: a bad pattern, serial, forks
// or start-at step. Everything that happens on hosts, including a
// cancelled ctx, is in the Recap; Recap.ExitCode maps it to an exit code.
func Run(ctx context.Context, opts RunOptions) (Recap, error) {
	r, batches, err := newRun(opts)
	if err != nil {
		return Recap{}, RunRedactor(opts.Playbook, opts.Inventory, nil, opts.Extra).Error(err)
	}
	defer r.conns.closeAll()
	failed := 0
	for i, batch := range batches {
		if ctx.Err() != nil {
			r.recap.Interrupted = true
			r.notStarted(batches[i:])
			break
		}
		if reason, stop := failBudgetExceeded(opts.Playbook.MaxFailPercentage, failed, len(r.recap.Order)); stop {
			r.recap.Aborted = reason
			r.notStarted(batches[i:])
			break
		}
		r.runBatch(ctx, batch)
		for _, h := range batch {
			if r.recap.hostFailed(h.Name) {
				failed++
			}
		}
	}
	if ctx.Err() != nil {
		r.recap.Interrupted = true
	}
	msg := r.recap.Aborted
	if r.recap.Interrupted {
		msg = joinMsg("interrupted", msg)
	}
	r.events.emit(Event{Type: EventRecap, Hosts: maps.Clone(r.recap.Hosts), Notes: maps.Clone(r.recap.Notes), Msg: msg})
	return r.recap, nil
}

// SelectHosts returns the hosts a run of pb goes to: the playbook's pattern
// intersected with limit (when set), in the playbook pattern's order. No
// host at all is an error, since the operator surely meant something.
func SelectHosts(pb *Playbook, inv *Inventory, limit string) ([]*Host, error) {
	if pb == nil || inv == nil {
		return nil, errors.New("select hosts: playbook and inventory are required")
	}
	hosts, err := inv.Match(pb.Hosts)
	if err != nil {
		return nil, fmt.Errorf("select hosts %q: %w", pb.Hosts, err)
	}
	if limit != "" {
		lim, err := inv.Match(limit)
		if err != nil {
			return nil, fmt.Errorf("select hosts: limit %q: %w", limit, err)
		}
		in := make(map[string]bool, len(lim))
		for _, h := range lim {
			in[h.Name] = true
		}
		kept := hosts[:0:0]
		for _, h := range hosts {
			if in[h.Name] {
				kept = append(kept, h)
			}
		}
		hosts = kept
	}
	if len(hosts) == 0 {
		if limit != "" {
			return nil, fmt.Errorf("select hosts: %q limited to %q matches no host", pb.Hosts, limit)
		}
		return nil, fmt.Errorf("select hosts: %q matches no host", pb.Hosts)
	}
	return hosts, nil
}
