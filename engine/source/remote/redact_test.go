package remote

import (
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		conninfo, password, want string
	}{
		{"host=h user=u password=s3cret dbname=postgres", "s3cret", "host=h user=u password=xxxxx dbname=postgres"},
		{`host=h password = 'it\'s \\ secret' user=u`, `it's \ secret`, "host=h password = xxxxx user=u"},
		{"postgres://u:p%40ss@h:5432/db?sslmode=disable", "p@ss", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgresql://u@h/db?password=p%40ss", "p@ss", "postgresql://u@h/db?password=xxxxx"},
		{"host=h user=u", "", "host=h user=u"},
	}
	for _, tt := range tests {
		r := newRedactor(tt.conninfo, tt.password)
		if r.conninfo != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.conninfo, r.conninfo, tt.want)
		}
		err := r.wrap("connect", errors.New("failed: password "+tt.password+" rejected for "+tt.conninfo))
		if tt.password != "" && strings.Contains(err.Error(), tt.password) {
			t.Errorf("password in error: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "connect on source server \"") {
			t.Errorf("error wording: %v", err)
		}
	}
}
