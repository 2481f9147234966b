package runbook

import "slices"

// Exit codes of a run, as `pgrunbook run` returns them (DESIGN.md, CLI).
const (
	ExitOK          = 0
	ExitUsage       = 2
	ExitFailed      = 3
	ExitUnreachable = 4
	ExitInterrupted = 130
)

// Recap is the result of a run: what every host did, and why the run ended
// early if it did.
type Recap struct {
	// Hosts counts the step results of every host of the run, including
	// hosts that never started (all zero).
	Hosts map[string]HostRecap
	// Order lists the hosts of the run in the order they were selected.
	Order []string
	// Ignored counts, per host, the failed steps whose failure was ignored
	// (ignore_errors). They are included in HostRecap.Failed, as the step
	// did fail, but they neither stopped the host nor fail the run.
	Ignored map[string]int
	// NotStarted lists the hosts that never ran a step because the run
	// stopped before their batch (max_fail_percentage, interruption).
	NotStarted []string
	// Aborted says why no further batch was started, when the failure
	// budget (max_fail_percentage) was exceeded; empty otherwise.
	Aborted string
	// Interrupted is true when the run's context was cancelled.
	Interrupted bool
	// Notes are the steps' recap lines (Outcome.Note) per host.
	Notes map[string][]string
}

// FailedHosts returns the hosts, in run order, on which a step failed
// without ignore_errors.
func (r Recap) FailedHosts() []string {
	var out []string
	for _, h := range r.Order {
		if r.Hosts[h].Failed > r.Ignored[h] {
			out = append(out, h)
		}
	}
	return out
}

// UnreachableHosts returns the hosts, in run order, that could not be
// reached or stopped answering.
func (r Recap) UnreachableHosts() []string {
	var out []string
	for _, h := range r.Order {
		if r.Hosts[h].Unreachable > 0 {
			out = append(out, h)
		}
	}
	return out
}

// ExitCode returns the process exit code of the run. The most severe outcome
// wins: an interrupted run is 130 whatever else happened; otherwise an
// unreachable host (4) takes precedence over a failed step (3), because
// an unreachable host's state is unknown while a failed step's host is at a
// known point; 0 means every host ran every selected step successfully.
// Failures under ignore_errors do not count.
func (r Recap) ExitCode() int {
	switch {
	case r.Interrupted:
		return ExitInterrupted
	case len(r.UnreachableHosts()) > 0:
		return ExitUnreachable
	case len(r.FailedHosts()) > 0 || r.Aborted != "":
		return ExitFailed
	}
	return ExitOK
}

// count adds one step result to the host's counters. Like Ansible, ok
// counts every successful step, changed or not, so that changed <= ok.
func (c *HostRecap) count(s Status) {
	switch s {
	case StatusOK:
		c.OK++
	case StatusChanged:
		c.OK++
		c.Changed++
	case StatusSkipped:
		c.Skipped++
	case StatusFailed:
		c.Failed++
	case StatusUnreachable:
		c.Unreachable++
	}
}

// hostFailed reports whether the host counts against max_fail_percentage.
func (r Recap) hostFailed(name string) bool {
	c := r.Hosts[name]
	return c.Unreachable > 0 || c.Failed > r.Ignored[name]
}

// notStarted records hosts that never ran.
func (r *Recap) notStarted(names ...string) {
	for _, n := range names {
		if !slices.Contains(r.NotStarted, n) {
			r.NotStarted = append(r.NotStarted, n)
		}
	}
}
