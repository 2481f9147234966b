package steps

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// redacted stands in for a password in messages.
const redacted = "xxxxx"

var (
	// kvPassword matches password=... in a keyword/value conninfo, quoted
	// or not.
	kvPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s']*)`)
	// urlPassword matches the user:password@ part of a URL conninfo when
	// the URL does not parse.
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*):([^@\s]*)@`)
)

// redactConninfo returns conninfo with every password replaced by xxxxx,
// for messages: keyword/value (password=secret, password='se cret') and URL
// forms (postgres://user:secret@host/db?password=secret).
func redactConninfo(conninfo string) string {
	s := conninfo
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		if u, err := url.Parse(s); err == nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
			q := u.Query()
			if q.Has("password") {
				q.Set("password", redacted)
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
		s = urlPassword.ReplaceAllString(s, "${1}:"+redacted+"@")
	}
	return kvPassword.ReplaceAllString(s, "${1}"+redacted)
}

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
func passwords(conninfo string) []string {
	var out []string
	for _, m := range kvPassword.FindAllStringSubmatch(conninfo, -1) {
		v := m[2]
		out = append(out, v, strings.Trim(v, "'"))
	}
	for _, m := range urlPassword.FindAllStringSubmatch(conninfo, -1) {
		out = append(out, m[2])
		if dec, err := url.PathUnescape(m[2]); err == nil {
			out = append(out, dec)
		}
	}
	return out
}
