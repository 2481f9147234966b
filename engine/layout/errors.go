package layout

import (
	"errors"
	"fmt"
)

// ErrUnknownMajor is returned (wrapped) for a major version that has no
// table at all.
var ErrUnknownMajor = errors.New("unsupported PostgreSQL major version")

// ErrUnchecked matches an UncheckedError with errors.Is.
var ErrUnchecked = errors.New("layout table not checked")

// UncheckedError refuses a major version whose table exists but has not been
// verified against a real server. Callers branch on it to fall back to the
// host's own pg_rewind.
type UncheckedError struct {
	// Major is the refused major version.
	Major int
}

// Error explains the refusal and the way out.
func (e *UncheckedError) Error() string {
	return fmt.Sprintf("the rewind engine's byte layout table for PostgreSQL %d has not been checked against that version; "+
		"use \"engine: pg_rewind\" in the rewind step to run the host's own pg_rewind instead", e.Major)
}

// Is makes errors.Is(err, ErrUnchecked) true for every UncheckedError.
func (e *UncheckedError) Is(target error) bool {
	return target == ErrUnchecked
}
