package transport

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"pg_ctl", "pg_ctl"},
		{"/var/lib/postgresql/15/main", "/var/lib/postgresql/15/main"},
		{"-D", "-D"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$HOME", `'$HOME'`},
		{"`id`", "'`id`'"},
		{`back\slash`, `'back\slash'`},
		{"line1\nline2", "'line1\nline2'"},
		{"a=b", "'a=b'"},
		{"~", "'~'"},
		{"*", "'*'"},
		{"tab\there", "'tab\there'"},
		{`"double"`, `'"double"'`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"pg_ctl", "-D", "/data dir", "stop"}, "pg_ctl -D '/data dir' stop"},
		{[]string{"echo", ""}, "echo ''"},
		{[]string{"psql", "-c", "select 'x'"}, `psql -c 'select '\''x'\'''`},
	}
	for _, tt := range tests {
		if got := Join(tt.argv); got != tt.want {
			t.Errorf("Join(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

// TestQuoteRoundTripsThroughSh has the real /bin/sh read back quoted
// strings of arbitrary bytes (all but NUL, which no argument can hold).
func TestQuoteRoundTripsThroughSh(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte("'\"\\$`!*?[]{}()<>|&;#~ \t\n\r=%^")
	var inputs []string
	for i := 0; i < 150; i++ {
		n := rng.IntN(40)
		b := make([]byte, n)
		for j := range b {
			if rng.IntN(2) == 0 {
				b[j] = special[rng.IntN(len(special))]
			} else {
				b[j] = byte(1 + rng.IntN(255))
			}
		}
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs, "", "'", "''", "\n", "-n", "%s", strings.Repeat("'\\", 100))
	for _, s := range inputs {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c printf %%s %s: %v", Quote(s), err)
		}
		if string(out) != s {
			t.Errorf("round trip of %q through sh gave %q", s, out)
		}
	}
}
