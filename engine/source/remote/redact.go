package remote

import (
	"net/url"
	"regexp"
	"strings"
)

// redactor hides the password of a connection string in everything the
// package reports.
type redactor struct {
	conninfo string   // the connection string with its password replaced
	secrets  []string // password spellings to scrub from error texts
}

const mask = "xxxxx"

// keywordPassword matches password=... in the keyword/value form, quoted
// (with backslash escapes) or not. The closing quote is optional: a
// connection string that does not parse because it is missing still must
// not show the words of the password after its first space.
var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s]+)`)

// uriUserinfo matches user:password@ in a postgres:// URI.
var uriUserinfo = regexp.MustCompile(`(?i)(postgres(?:ql)?://[^:@/?#\s]*:)([^@/?#\s]*)(@)`)

func newRedactor(conninfo, password string) redactor {
	r := redactor{}
	if password != "" {
		r.secrets = []string{password, url.QueryEscape(password), url.PathEscape(password),
			strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password)}
	}
	// A connection string that did not parse gives no password, and the
	// driver's own masking of it may leave words of a quoted one behind:
	// scrub every word of what is written after password=.
	for _, m := range keywordPassword.FindAllStringSubmatch(conninfo, -1) {
		for _, w := range strings.Fields(strings.Trim(m[2], "'")) {
			if len(w) >= 3 {
				r.secrets = append(r.secrets, w)
			}
		}
	}
	r.conninfo = r.scrub(conninfo)
	return r
}

// scrub removes password assignments and every spelling of the password.
func (r redactor) scrub(s string) string {
	s = keywordPassword.ReplaceAllString(s, "${1}"+mask)
	s = uriUserinfo.ReplaceAllString(s, "${1}"+mask+"${3}")
	for _, p := range r.secrets {
		if p != "" {
			s = strings.ReplaceAll(s, p, mask)
		}
	}
	return s
}

// Error is a failure talking to the source server. Its text names the
// operation and the redacted connection string and never contains the
// password.
type Error struct {
	// Op is the operation that failed, e.g. "connect".
	Op string
	// Conninfo is the connection string with the password masked.
	Conninfo string
	msg      string
	err      error
}

// Error renders the operation, the masked connection string and the
// scrubbed cause.
func (e *Error) Error() string {
	return e.Op + " on source server \"" + e.Conninfo + "\": " + e.msg
}

// Unwrap returns the underlying error so callers can test it with
// errors.Is and errors.As; its own text is not redacted.
func (e *Error) Unwrap() error { return e.err }

// wrap builds an Error for op.
func (r redactor) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Conninfo: r.conninfo, msg: r.scrub(err.Error()), err: err}
}
