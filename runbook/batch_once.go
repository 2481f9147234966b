package runbook

import (
	"context"
	"sync"
)

// batchState coordinates the hosts of one serial batch for run_once steps: such
// a step runs on the first host of the batch that has not finished, and
// every other host of the batch waits for that result and takes it as its
// own register. When the host that should run it stops before reaching it,
// the next unfinished host takes over, so nobody waits forever.
type batchState struct {
	mu   sync.Mutex
	done []bool
	once map[*Step]onceResult
	// wake is closed and replaced whenever the state changes.
	wake chan struct{}
}

// onceResult is the result of a run_once step and the host that ran it.
type onceResult struct {
	host string
	res  stepResult
}

func newBatch(n int) *batchState {
	return &batchState{done: make([]bool, n), once: make(map[*Step]onceResult), wake: make(chan struct{})}
}

// finish records that the host at index i runs no more steps.
func (b *batchState) finish(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done[i] = true
	b.broadcast()
}

// broadcast wakes every waiting host; b.mu must be held.
func (b *batchState) broadcast() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// first returns the index of the first unfinished host; b.mu must be held.
func (b *batchState) first() int {
	for i, d := range b.done {
		if !d {
			return i
		}
	}
	return -1
}

// runOnce runs, or waits for, a run_once step and reports whether the host
// must stop.
func (hr *hostRun) runOnce(ctx context.Context, s *Step) (stop bool) {
	b := hr.batch
	for {
		b.mu.Lock()
		if o, ok := b.once[s]; ok {
			b.mu.Unlock()
			return hr.adopt(s, o)
		}
		if b.first() == hr.index {
			b.mu.Unlock()
			res := hr.execute(ctx, s)
			b.mu.Lock()
			b.once[s] = onceResult{host: hr.host.Name, res: res}
			b.broadcast()
			b.mu.Unlock()
			return hr.settle(s, res)
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return true
		}
	}
}

// adopt takes the result of a run_once step that another host ran. The
// result is counted once, on the host that ran it; but when that step
// failed (and the failure is not ignored), every host of the batch fails
// with it, as a step the batch relies on did not happen.
func (hr *hostRun) adopt(s *Step, o onceResult) (stop bool) {
	if s.Register != "" {
		hr.vars[s.Register] = o.res.registered
	}
	if !o.res.stops() {
		return false
	}
	msg := "run_once step failed on " + o.host + ": " + o.res.msg
	hr.emit(Event{Type: EventStepStart, Step: s.Name})
	hr.emit(Event{Type: EventStepEnd, Step: s.Name, Status: StatusFailed, Msg: msg})
	hr.counts.count(StatusFailed)
	return true
}
