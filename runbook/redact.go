package runbook

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// minSecretLen is the shortest secret value masked wherever it appears.
// Shorter values ("on", "1", "yes") occur in innocent text so often that
// masking them would garble every message; a password that short is
// still masked where it is written as password=..., and is no protection
// anyway.
const minSecretLen = 4

// Redactor masks secrets in text meant for the operator: event lines,
// messages, diffs and errors. It knows two kinds of secret: passwords of
// connection strings, found by their shape wherever they appear (see
// RedactConninfo), and secret values registered with AddSecret or found by
// AddVars, masked wherever they appear. A nil *Redactor masks connection
// string passwords only. It is safe for concurrent use.
type Redactor struct {
	mu sync.RWMutex
	// values are the registered secrets, longest first, so that a secret
	// that contains another is masked whole.
	values []string
}

// NewRedactor returns a Redactor with no registered secret.
func NewRedactor() *Redactor { return &Redactor{} }

// AddSecret registers v as a secret, masked wherever it appears. Values
// shorter than four bytes are ignored (see Redact).
func (r *Redactor) AddSecret(v string) {
	if r == nil || len(v) < minSecretLen || v == Mask {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.values, v) {
		return
	}
	r.values = append(r.values, v)
	slices.SortStableFunc(r.values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// Redact returns s with every connection string password and every
// registered secret of at least four bytes replaced by Mask.
func (r *Redactor) Redact(s string) string {
	if s == "" {
		return s
	}
	s = RedactConninfo(s)
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Event returns ev with its text redacted: the output line, the message,
// the progress phase and both sides and the path of every diff. The diffs
// are copied, never changed in place, because the step's outcome shares
// them.
func (r *Redactor) Event(ev Event) Event {
	ev.Step = r.Redact(ev.Step)
	ev.Line = r.Redact(ev.Line)
	ev.Msg = r.Redact(ev.Msg)
	if len(ev.Diffs) > 0 {
		diffs := make([]FileDiff, len(ev.Diffs))
		for i, d := range ev.Diffs {
			diffs[i] = FileDiff{Path: r.Redact(d.Path), Before: r.Redact(d.Before), After: r.Redact(d.After)}
		}
		ev.Diffs = diffs
	}
	if len(ev.Notes) > 0 {
		notes := make(map[string][]string, len(ev.Notes))
		for h, lines := range ev.Notes {
			for _, l := range lines {
				notes[h] = append(notes[h], r.Redact(l))
			}
		}
		ev.Notes = notes
	}
	if ev.Progress != nil {
		p := *ev.Progress
		p.Phase = r.Redact(p.Phase)
		ev.Progress = &p
	}
	return ev
}
