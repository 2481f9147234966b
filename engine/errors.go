package engine

// Error is a failure that carries a second line of explanation, printed
// by the command line as pg_rewind prints its "detail:" lines (for
// example the crash recovery command that failed).
type Error struct {
	// Msg is the error itself.
	Msg string
	// Detail says more, such as the command that was run.
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns Msg; Detail is for a separate line.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
