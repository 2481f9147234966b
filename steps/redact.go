package steps

import (
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// redacted stands in for a password in messages; it is the executor's mask.
const redacted = runbook.Mask

// urlPassword matches the user:password@ part of a URL conninfo, for
// masking files whose text is not a message (see maskConfSecrets).
var urlPassword = regexp.MustCompile(`(://[^:/@\s]*):([^@\s]*)@`)

// redactConninfo returns conninfo with every password replaced by xxxxx,
// for messages; the executor's runbook.RedactConninfo, so that steps and
// the event stream mask alike.
func redactConninfo(conninfo string) string { return runbook.RedactConninfo(conninfo) }

// redactedError hides passwords in the message of an error from pgx, which
// may quote the connection string or echo a password, while keeping the
// error chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every password of conninfo (and of cfg, when it
// parsed) removed from its message.
func redact(err error, conninfo string, cfg *pgx.ConnConfig) error {
	if err == nil {
		return nil
	}
	msg := redactConninfo(err.Error())
	secrets := passwords(conninfo)
	if cfg != nil {
		secrets = append(secrets, cfg.Password)
	}
	for _, p := range secrets {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, redacted)
		}
	}
	return &redactedError{msg: msg, err: err}
}

// passwords extracts the password values written in conninfo, so that they
// can be removed from messages even when conninfo does not parse.
func passwords(conninfo string) []string { return runbook.ConninfoPasswords(conninfo) }
