package pgconf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// bare matches the values written without quotes: integers with an
// optional unit (5432, 64MB, -1, 0x1F), reals (0.9, 1e3) and boolean words
// (on, off, true, false, yes, no). Words are quoted otherwise (cluster_name
// = 'db1', wal_level = 'replica'), as ALTER SYSTEM and the seed runbook
// write them: PostgreSQL reads a quoted word the same as a bare one, and a
// string setting then looks like one.
var bare = regexp.MustCompile(`^(?:[-+]?(?:[0-9]+|0[xX][0-9a-fA-F]+)[a-zA-Z]*|[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|(?i:on|off|true|false|yes|no))$`)

// Quote renders value as a postgresql.conf value: bare when it is a number
// or a boolean word, otherwise single-quoted with ' doubled and backslashes,
// newlines and carriage returns escaped (PostgreSQL reads backslash escapes
// inside quotes, and a value cannot span lines).
func Quote(value string) string {
	if bare.MatchString(value) {
		return value
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Unquote resolves a value token as PostgreSQL does: a quoted token loses
// its quotes, a doubled quote becomes one, and backslash escapes (\b \f
// \n \r \t, octal \ooo, and \x for any other x) are resolved. A bare
// token is returned as is.
func Unquote(token string) string {
	if len(token) < 2 || token[0] != '\'' || token[len(token)-1] != '\'' {
		return token
	}
	s := token[1 : len(token)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for n := 1; n < 3 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; n++ {
						i++
						v = v*8 + int(s[i]-'0')
					}
					b.WriteByte(byte(v))
				} else {
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Equal reports whether two resolved values mean the same: they are equal,
// or both are boolean words (on/off, true/false, yes/no, any case) of the
// same truth.
func Equal(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := boolWord(a)
	y, oky := boolWord(b)
	return okx && oky && x == y
}

func boolWord(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	return false, false
}

// FormatValue turns a decoded YAML scalar into a setting's value: strings
// as they are, integers in decimal, floats in their shortest form, booleans
// as on/off.
func FormatValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "on", nil
		}
		return "off", nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case nil:
		return "", fmt.Errorf("no value")
	}
	return "", fmt.Errorf("value of type %T is not a scalar", v)
}
