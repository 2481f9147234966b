package transport

import "strings"

// Quote returns s quoted for POSIX sh, so that the shell reads it back as one
// word with exactly the bytes of s. Inside single quotes sh gives no byte a
// special meaning, so the only byte that needs care is the single quote
// itself: the quoted string is closed, the quote written as \' and the
// string reopened. Go's %q is not used: its escapes ("\n", "\x00") mean
// nothing to sh.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isShellSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b.WriteString(`'\''`)
			continue
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// Join quotes every element of argv with Quote and joins them with spaces,
// giving a sh command line that runs exactly argv.
func Join(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}

// isShellSafe reports whether s consists only of bytes that sh never treats
// specially in any position, so it can stand unquoted and stay readable in
// logs (pg_ctl, -D, /var/lib/postgresql/15/main).
func isShellSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+' || c == '@' || c == '%':
		default:
			return false
		}
	}
	return true
}
