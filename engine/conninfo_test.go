package engine

import "testing"

func TestStandbyConninfo(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"host=/tmp/sock port=5432 user=rewind_user dbname=postgres", "host=/tmp/sock port=5432 user=rewind_user"},
		{`host = 10.77.0.12  user='rewind user' password='it\'s' replication=true`, `host=10.77.0.12 user='rewind user' password='it\'s'`},
		{`host=a password='q\'uote\\d'`, `host=a password='q\'uote\\d'`},
		{"application_name='' dbname=x host=h", "host=h"},
		{"postgresql://u@h:5/db?sslmode=require", "postgresql://u@h:5/db?sslmode=require"},
	}
	for _, tt := range tests {
		got, err := standbyConninfo(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got != tt.want {
			t.Fatalf("%q:\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestStandbyConninfoErrors(t *testing.T) {
	for _, in := range []string{"host", "host='open", "host x"} {
		if _, err := standbyConninfo(in); err == nil {
			t.Fatalf("%q: no error", in)
		}
	}
}
