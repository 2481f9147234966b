package runbook

// redactedError carries a redacted message in front of the original
// error, so that errors.Is and errors.As still see the chain while Error
// shows no secret.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Error returns err with its message redacted, or err itself when there
// was nothing to mask. An ErrorList stays an ErrorList (each problem's
// message redacted), because callers print it line by line and map it to
// the playbook error exit code.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	if list, ok := err.(ErrorList); ok {
		out := make(ErrorList, len(list))
		for i, e := range list {
			c := *e
			c.Msg = r.Redact(e.Msg)
			c.Pos.File = r.Redact(e.Pos.File)
			out[i] = &c
		}
		return out
	}
	msg := err.Error()
	if red := r.Redact(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}
