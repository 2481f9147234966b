package runbook

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask is what a redacted secret is replaced with in events and errors.
const Mask = "xxxxx"

var (
	// conninfoPassword matches a password assignment in a keyword/value
	// connection string, quoted or not, and the environment form
	// PGPASSWORD=... of shell lines. "password_encryption = scram-sha-256"
	// is not one: the keyword must be followed by "=". An unquoted value
	// ends at a double quote too, which is how messages quote a whole
	// connection string.
	conninfoPassword = regexp.MustCompile(`(?i)(\b(?:pg)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'"]*)`)
	// uriUserinfo matches the user:password@ part of a URI, parsed or not.
	uriUserinfo = regexp.MustCompile(`(://[^:/@\s]*):([^@\s]*)@`)
	// connURI finds postgres URIs inside longer text.
	connURI = regexp.MustCompile(`postgres(?:ql)?://[^\s'"]+`)
)

// RedactConninfo returns s with every password of the connection strings
// in it replaced by Mask: keyword/value (password=secret,
// password='se cret'), PGPASSWORD=secret, and URI forms
// (postgres://user:secret@host/db, ?password=secret). s may be a bare
// connection string or any text that quotes one, such as an error.
func RedactConninfo(s string) string {
	if strings.Contains(s, "://") {
		s = connURI.ReplaceAllStringFunc(s, redactURI)
		s = uriUserinfo.ReplaceAllString(s, "${1}:"+Mask+"@")
	}
	if !strings.Contains(strings.ToLower(s), "password") {
		return s
	}
	return conninfoPassword.ReplaceAllStringFunc(s, func(m string) string {
		sub := conninfoPassword.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], Mask) {
			return m // a URI's query, masked already; keep what follows
		}
		return sub[1] + Mask
	})
}

// redactURI masks the password of one postgres URI, in its user info and
// in its query.
func redactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Mask)
			changed = true
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", Mask)
		u.RawQuery = q.Encode()
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// ConninfoPasswords returns the password values written in the connection
// strings of s, in every spelling a message may show them (as written,
// unquoted, unescaped), so that they can be removed from text even where
// they appear alone, for example echoed by a server.
func ConninfoPasswords(s string) []string {
	var out []string
	lower := strings.ToLower(s)
	if strings.Contains(lower, "password") {
		for _, m := range conninfoPassword.FindAllStringSubmatch(s, -1) {
			v := m[2]
			out = append(out, v)
			if t := strings.Trim(v, "'"); t != v {
				out = append(out, t, strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(t))
			}
		}
	}
	if strings.Contains(s, "://") {
		for _, m := range uriUserinfo.FindAllStringSubmatch(s, -1) {
			out = append(out, m[2])
			if dec, err := url.PathUnescape(m[2]); err == nil {
				out = append(out, dec)
			}
		}
		for _, raw := range connURI.FindAllString(s, -1) {
			if u, err := url.Parse(raw); err == nil {
				if pw := u.Query().Get("password"); pw != "" {
					out = append(out, pw, url.QueryEscape(pw))
				}
			}
		}
	}
	kept := out[:0]
	for _, v := range out {
		if v != "" && v != Mask {
			kept = append(kept, v)
		}
	}
	return kept
}
