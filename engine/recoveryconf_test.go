package engine

import "testing"

func TestSetConfLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "primary_conninfo = 'x'\n"},
		{"appends", "# Do not edit\nport = 5433\n", "# Do not edit\nport = 5433\nprimary_conninfo = 'x'\n"},
		{"replaces every old line", "primary_conninfo = 'old'\nport = 5\n  PRIMARY_CONNINFO='older'\nprimary_conninfo_x = 1",
			"port = 5\nprimary_conninfo_x = 1\nprimary_conninfo = 'x'\n"},
		{"keeps comments naming it", "#primary_conninfo = 'c'\n", "#primary_conninfo = 'c'\nprimary_conninfo = 'x'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setConfLine(tt.in, "primary_conninfo", "'x'"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEscapeConfValue(t *testing.T) {
	if got, want := escapeConfValue(`user=a password='p\q'`), `user=a password=''p\\q''`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
