package runbook

import (
	"context"
	"maps"
)

// hostRun runs the selected steps on one host. Only the host's own
// goroutine touches it, so it needs no lock.
type hostRun struct {
	r     *execution
	host  *Host
	batch *batchState
	index int // position in the batch, for run_once
	// vars are the host's merged variables plus its registered results;
	// the step templates and conditions see these.
	vars    map[string]any
	counts  HostRecap
	ignored int
	notes   []string
}

func (r *execution) newHostRun(h *Host, b *batchState, index int) *hostRun {
	// HostVars may share nested maps between hosts; registering only adds
	// top-level keys, so a shallow copy keeps hosts apart.
	vars := maps.Clone(r.inv.HostVars(h, r.pb, r.opts.Extra))
	if vars == nil {
		vars = make(map[string]any)
	}
	return &hostRun{r: r, host: h, batch: b, index: index, vars: vars}
}

// run executes the steps in order until one stops the host or the run is
// interrupted.
func (hr *hostRun) run(ctx context.Context) {
	for _, s := range hr.r.steps {
		if ctx.Err() != nil {
			return
		}
		var stop bool
		if s.RunOnce {
			stop = hr.runOnce(ctx, s)
		} else {
			stop = hr.settle(s, hr.execute(ctx, s))
		}
		if stop {
			return
		}
	}
}

// settle counts a step's result, registers it, and reports whether the
// host must stop: after an unreachable result, or a failure that is not
// ignored.
func (hr *hostRun) settle(s *Step, res stepResult) (stop bool) {
	hr.counts.count(res.status)
	if res.ignored {
		hr.ignored++
	}
	if res.outcome.Note != "" {
		hr.notes = append(hr.notes, res.outcome.Note)
	}
	if s.Register != "" {
		hr.vars[s.Register] = res.registered
	}
	return res.stops()
}

// emit sends an event about this host.
func (hr *hostRun) emit(ev Event) {
	ev.Host = hr.host.Name
	hr.r.events.emit(ev)
}
