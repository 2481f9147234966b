package runbook

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ParseError is one problem found in a playbook or inventory before
// anything ran: where it is, which step it belongs to, and what is wrong.
// Callers that print it need nothing else; the run command maps it to the
// "playbook error" exit code.
type ParseError struct {
	// Pos is where the problem is; Line is 0 when only the file is known
	// (for example a variable given with -e).
	Pos Pos
	// Step is the name of the step the problem is in, "" outside steps.
	Step string
	// Msg says what is wrong, without position or step.
	Msg string
}

// Error formats the problem as `file:line:col: step "name": message`.
func (e *ParseError) Error() string {
	var b strings.Builder
	switch {
	case e.Pos.Line > 0:
		b.WriteString(e.Pos.String())
		b.WriteString(": ")
	case e.Pos.File != "":
		b.WriteString(e.Pos.File)
		b.WriteString(": ")
	}
	if e.Step != "" {
		fmt.Fprintf(&b, "step %q: ", e.Step)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one playbook or inventory, reported
// together so that an operator fixes them in one pass rather than one per
// run. Its Error method prints one problem per line, in file order.
type ErrorList []*ParseError

// Error prints one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the single problems to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// add records a problem at pos.
func (l *ErrorList) add(pos Pos, step, format string, args ...any) {
	*l = append(*l, &ParseError{Pos: pos, Step: step, Msg: fmt.Sprintf(format, args...)})
}

// err sorts the problems by position, drops exact duplicates and returns
// the list as an error, or nil when there is none (never a typed nil).
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	sorted := slices.Clone(l)
	slices.SortStableFunc(sorted, func(a, b *ParseError) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
	seen := make(map[ParseError]bool, len(sorted))
	var out ErrorList
	for _, e := range sorted {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	return out
}
