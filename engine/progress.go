package engine

import (
	"sync"
	"sync/atomic"
)

// The phases a rewind reports through Options.OnProgress, in order.
const (
	PhaseCrashRecovery = "crash_recovery"
	PhaseReadingWAL    = "reading_wal"
	PhaseListing       = "listing"
	PhaseCopying       = "copying"
	PhaseCopied        = "copied"
	PhaseSyncing       = "syncing"
	PhaseDone          = "done"
)

// Progress is a snapshot of the rewind's progress: in the copying phase,
// Done of Total bytes are copied; other phases report zero counts.
type Progress struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit"`
}

// progressCounter counts fetched bytes from concurrent sinks and hands
// snapshots to the callback one at a time.
type progressCounter struct {
	mu    sync.Mutex
	fn    func(Progress)
	total int64
	done  atomic.Int64
}

// phase announces a new phase; for the copying phases it carries the
// byte counts so far.
func (p *progressCounter) phase(name string, total int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var done int64
	if name == PhaseCopying || name == PhaseCopied {
		done = p.done.Load()
	}
	p.fn(Progress{Phase: name, Done: done, Total: total, Unit: "bytes"})
}

// add counts n fetched bytes.
func (p *progressCounter) add(n int64) {
	done := p.done.Add(n)
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn(Progress{Phase: PhaseCopying, Done: done, Total: p.total, Unit: "bytes"})
}
