package steps

import (
	"fmt"
	"net/url"
	"strings"
)

// The password of source_server never goes on the remote command line,
// where ps and /proc/<pid>/cmdline show it to every local user (and an
// environment variable would be on sudo's command line too, under
// become). The step writes it into a 0600 passfile in a private
// directory of the become user, through standard input, passes
// passfile=<path> in the connection string instead, and deletes the
// directory when the engine is done.

// splitPassword returns conninfo without its password, and the password
// ("" when there is none). Keyword/value strings and URIs are both
// handled.
func splitPassword(conninfo string) (string, string, error) {
	if strings.HasPrefix(conninfo, "postgres://") || strings.HasPrefix(conninfo, "postgresql://") {
		return splitURIPassword(conninfo)
	}
	pairs, err := parseConnPairs(conninfo)
	if err != nil {
		return "", "", err
	}
	var parts []string
	var password string
	for _, p := range pairs {
		if p[0] == "password" {
			password = p[1]
			continue
		}
		parts = append(parts, p[0]+"="+quoteConnValue(p[1]))
	}
	return strings.Join(parts, " "), password, nil
}

// splitURIPassword removes the password from a URI's user info and query.
func splitURIPassword(conninfo string) (string, string, error) {
	u, err := url.Parse(conninfo)
	if err != nil {
		return "", "", fmt.Errorf("parse source_server URI: %s", redactConninfo(conninfo))
	}
	var password string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			password = pw
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if pw := q.Get("password"); pw != "" {
		password = pw
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), password, nil
}

// withPassfile adds passfile=p to a conninfo without password.
func withPassfile(conninfo, p string) string {
	if strings.HasPrefix(conninfo, "postgres://") || strings.HasPrefix(conninfo, "postgresql://") {
		sep := "?"
		if strings.Contains(conninfo, "?") {
			sep = "&"
		}
		return conninfo + sep + "passfile=" + url.QueryEscape(p)
	}
	return strings.TrimSpace(conninfo + " passfile=" + quoteConnValue(p))
}

// passfileLine is a .pgpass line that matches every host, port, database
// and user, with ':' and '\' escaped as libpq wants.
func passfileLine(password string) string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(password)
	return "*:*:*:*:" + esc + "\n"
}

// parseConnPairs splits a libpq keyword/value string into its pairs.
// Values may be single-quoted with backslash escapes.
func parseConnPairs(s string) ([][2]string, error) {
	var pairs [][2]string
	i := 0
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for {
		for i < len(s) && space(s[i]) {
			i++
		}
		if i >= len(s) {
			return pairs, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !space(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && space(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("parse source_server: missing \"=\" after %q", key)
		}
		i++
		for i < len(s) && space(s[i]) {
			i++
		}
		var val strings.Builder
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
		}
		closed := !quoted
		for i < len(s) {
			c := s[i]
			if !quoted && space(c) {
				break
			}
			if c == '\\' && i+1 < len(s) {
				val.WriteByte(s[i+1])
				i += 2
				continue
			}
			i++
			if quoted && c == '\'' {
				closed = true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return nil, fmt.Errorf("parse source_server: unterminated quoted value of %q", key)
		}
		pairs = append(pairs, [2]string{key, val.String()})
	}
}

// quoteConnValue quotes a conninfo value when it needs it.
func quoteConnValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
