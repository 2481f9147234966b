package transport

import "fmt"

// unreachableError is an error that matches ErrUnreachable while keeping
// the error that caused it, so callers can branch on both.
type unreachableError struct {
	msg string
	err error
}

// Error returns the message and its cause.
func (e *unreachableError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

// Unwrap returns ErrUnreachable and the cause.
func (e *unreachableError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrUnreachable}
	}
	return []error{ErrUnreachable, e.err}
}

// unreachable wraps err in an error that matches ErrUnreachable, with a
// message formatted from format and args.
func unreachable(err error, format string, args ...any) error {
	return &unreachableError{msg: fmt.Sprintf(format, args...), err: err}
}
