package pgconf

import "strings"

// The lexical rules follow PostgreSQL's guc-file.l: whitespace is space,
// tab and carriage return; '#' starts a comment; a key is an identifier
// (letters, digits, '_' and bytes >= 0x80, not starting with a digit),
// optionally qualified by one '.'; '=' between key and value is optional; a
// quoted value may contain doubled quotes and backslash escapes.

// parseLine recognises an active `key [=] value [# comment]` line. Any other
// line (blank, comment, or malformed) is returned with an empty key.
func parseLine(text string) line {
	l := line{text: text}
	i := skipSpace(text, 0)
	k := scanKey(text, i)
	if k == i {
		return l
	}
	key := strings.ToLower(text[i:k])
	j := skipSpace(text, k)
	if j < len(text) && text[j] == '=' {
		j = skipSpace(text, j+1)
	} else if j == k {
		// Without '=', whitespace must separate key and value.
		return l
	}
	end, ok := scanValue(text, j)
	if !ok || end == j {
		return l
	}
	rest := skipSpace(text, end)
	if rest < len(text) && text[rest] != '#' {
		return l
	}
	l.key, l.valStart, l.valEnd = key, j, end
	return l
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// scanID returns the end of the identifier starting at i, or i if there is
// none.
func scanID(s string, i int) int {
	if i >= len(s) || !isLetter(s[i]) {
		return i
	}
	i++
	for i < len(s) && (isLetter(s[i]) || isDigit(s[i])) {
		i++
	}
	return i
}

// scanKey returns the end of the (possibly qualified) key starting at i, or
// i if there is none.
func scanKey(s string, i int) int {
	end := scanID(s, i)
	if end == i {
		return i
	}
	if end < len(s) && s[end] == '.' {
		if q := scanID(s, end+1); q > end+1 {
			return q
		}
	}
	return end
}

// scanValue returns the end of the value token starting at i: a quoted
// string up to its closing quote, or a run of bytes that are neither
// whitespace, '#' nor a quote. ok is false for an unterminated string.
func scanValue(s string, i int) (end int, ok bool) {
	if i < len(s) && s[i] == '\'' {
		k := i + 1
		for k < len(s) {
			switch s[k] {
			case '\\':
				if k+1 >= len(s) {
					return 0, false
				}
				k += 2
			case '\'':
				if k+1 < len(s) && s[k+1] == '\'' {
					k += 2
					continue
				}
				return k + 1, true
			default:
				k++
			}
		}
		return 0, false
	}
	k := i
	for k < len(s) && !isSpace(s[k]) && s[k] != '#' && s[k] != '\'' {
		k++
	}
	return k, true
}
