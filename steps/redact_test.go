package steps

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactConninfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"host=x user=u password=secret dbname=d", "host=x user=u password=xxxxx dbname=d"},
		{"host=x password = 'se cret\\'s' user=u", "host=x password = xxxxx user=u"},
		{"host=x PASSWORD=secret", "host=x PASSWORD=xxxxx"},
		{"host=x user=u", "host=x user=u"},
		{"postgres://u:secret@h:5432/d?sslmode=disable", "postgres://u:xxxxx@h:5432/d?sslmode=disable"},
		{"postgresql://u@h/d?password=secret", "postgresql://u@h/d?password=xxxxx"},
		{"postgres://u:sec%zzret@h/d", "postgres://u:xxxxx@h/d"},
	}
	for _, tt := range tests {
		if got := redactConninfo(tt.in); got != tt.want {
			t.Errorf("redactConninfo(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	base := errors.New("failed to connect to `user=u password=hunter2`: server said hunter2 is wrong")
	err := redact(base, "host=h password=hunter2", nil)
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password left in %q", err)
	}
	if !errors.Is(err, base) {
		t.Error("redacted error lost its chain")
	}
}

func TestFirstWord(t *testing.T) {
	tests := []struct {
		q        string
		want     string
		readOnly bool
	}{
		{"SELECT 1", "SELECT", true},
		{"  select 1", "SELECT", true},
		{"-- c\n/* d */ (SELECT 1)", "SELECT", true},
		{"show port", "SHOW", true},
		{"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "WITH", false},
		{"insert into t values (1)", "INSERT", false},
		{"/* unterminated", "", false},
	}
	for _, tt := range tests {
		if got := firstWord(tt.q); got != tt.want {
			t.Errorf("firstWord(%q) = %q; want %q", tt.q, got, tt.want)
		}
		if got := isReadOnly(tt.q); got != tt.readOnly {
			t.Errorf("isReadOnly(%q) = %v", tt.q, got)
		}
	}
}
