package engine

import (
	"fmt"
	"strings"
)

// droppedConninfoKeys are left out of primary_conninfo, as pg_rewind's
// recovery config leaves them out: the walreceiver chooses its own
// database and replication mode.
var droppedConninfoKeys = map[string]bool{
	"dbname":                    true,
	"replication":               true,
	"fallback_application_name": true,
}

// standbyConninfo turns the --source-server connection string into the
// primary_conninfo value for the rewound standby. A URI is kept as it is
// (libpq accepts one there too); a keyword/value string is re-rendered
// without the keywords a walreceiver sets itself.
func standbyConninfo(conninfo string) (string, error) {
	if strings.HasPrefix(conninfo, "postgresql://") || strings.HasPrefix(conninfo, "postgres://") {
		return conninfo, nil
	}
	pairs, err := parseConninfo(conninfo)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, p := range pairs {
		if droppedConninfoKeys[p[0]] || p[1] == "" {
			continue
		}
		parts = append(parts, p[0]+"="+quoteConninfoValue(p[1]))
	}
	return strings.Join(parts, " "), nil
}

// parseConninfo splits a libpq keyword/value string into its pairs, in
// order. Values may be single-quoted, with backslash escapes.
func parseConninfo(s string) ([][2]string, error) {
	var pairs [][2]string
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return pairs, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("parse source connection string: missing \"=\" after %q", key)
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("parse source connection string: unterminated quoted value of %q", key)
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		pairs = append(pairs, [2]string{key, val.String()})
	}
}

// quoteConninfoValue quotes a value for a libpq connection string when it
// needs it.
func quoteConninfoValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
