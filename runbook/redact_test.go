package runbook

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestRedactConninfo(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"keyword", "host=db1 user=rewind password=s3cret dbname=postgres",
			"host=db1 user=rewind password=xxxxx dbname=postgres"},
		{"keyword with spaces", "host=db1 password = s3cret", "host=db1 password = xxxxx"},
		{"upper case", "host=db1 PASSWORD=s3cret", "host=db1 PASSWORD=xxxxx"},
		{"quoted", `host=db1 password='se cret' user=u`, `host=db1 password=xxxxx user=u`},
		{"quoted with escapes", `password='it\'s se\\cret' user=u`, `password=xxxxx user=u`},
		{"first of the line", "password=s3cret", "password=xxxxx"},
		{"in an error", `connect "host=db1 password=s3cret": refused`, `connect "host=db1 password=xxxxx": refused`},
		{"in a conf line", `primary_conninfo = 'host=db1 password=s3cret'`, `primary_conninfo = 'host=db1 password=xxxxx'`},
		{"environment", "PGPASSWORD=s3cret psql -h db1", "PGPASSWORD=xxxxx psql -h db1"},
		{"uri", "postgres://rewind:s3cret@db1:5432/postgres", "postgres://rewind:xxxxx@db1:5432/postgres"},
		{"postgresql uri", "postgresql://rewind:s3cret@db1/postgres?sslmode=disable",
			"postgresql://rewind:xxxxx@db1/postgres?sslmode=disable"},
		{"uri query", "postgres://db1/postgres?user=u&password=s3cret&sslmode=disable",
			"postgres://db1/postgres?password=xxxxx&sslmode=disable&user=u"},
		{"uri in text", `dial "postgres://u:s3cret@db1/x" failed`, `dial "postgres://u:xxxxx@db1/x" failed`},
		{"unparsable uri", "postgres://u:s3%zzcret@db1/x", "postgres://u:xxxxx@db1/x"},
		// No over-masking.
		{"uri without password", "postgres://u@db1/x", "postgres://u@db1/x"},
		{"password_encryption", "password_encryption = scram-sha-256", "password_encryption = scram-sha-256"},
		{"passfile", "host=db1 passfile=/var/lib/postgresql/.pgpass", "host=db1 passfile=/var/lib/postgresql/.pgpass"},
		{"prose", "password authentication failed for user \"rewind\"", "password authentication failed for user \"rewind\""},
		{"http url", "see https://www.postgresql.org/docs/", "see https://www.postgresql.org/docs/"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactConninfo(tc.in); got != tc.want {
				t.Errorf("RedactConninfo(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestConninfoPasswords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"host=db1 password=s3cret", []string{"s3cret"}},
		{`password='se cret'`, []string{`'se cret'`, "se cret"}},
		{"postgres://u:s3%40cret@db1/x", []string{"s3%40cret", "s3@cret"}},
		{"postgres://db1/x?password=s3cret", []string{"s3cret"}},
		{"host=db1 passfile=/p", nil},
		{"password=", nil},
	} {
		got := ConninfoPasswords(tc.in)
		for _, w := range tc.want {
			if !contains(got, w) {
				t.Errorf("ConninfoPasswords(%q) = %q, want %q among them", tc.in, got, w)
			}
		}
		if tc.want == nil && len(got) > 0 {
			t.Errorf("ConninfoPasswords(%q) = %q, want none", tc.in, got)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "db_password": true, "PGPASSWORD": true, "pgpassword": true,
		"root_passwd": true, "api_secret": true, "vault_token": true, "Secret": true,
		"passfile": false, "password_file": false, "secret_dir": false, "token_path": false,
		"pgdata": false, "rewind_user": false, "source": false, "new_primary": false,
	} {
		if got := IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRedactorVars(t *testing.T) {
	r := NewRedactor()
	r.AddVars(map[string]any{
		"db_password": "Pa55word",
		"source":      "host=db1 user=rewind password=ConnSecret1 dbname=postgres",
		"uri":         "postgres://u:UriSecret2@db1/x",
		"nested":      map[string]any{"api_token": "Tok3nValue", "list": []any{"host=x password=ListSecret3"}},
		"pgpassword":  "abc", // too short to mask alone
		"use_secret":  true,
		"secret_file": "/etc/pgrunbook/secret",
		"pgdata":      "/var/lib/postgresql/15/main",
		"hostvars":    map[string]any{"pg2": map[string]any{"password": "NotAddedHere"}},
	})
	for _, tc := range []struct{ in, want string }{
		{"the password is Pa55word.", "the password is xxxxx."},
		{"server said ConnSecret1 is wrong", "server said xxxxx is wrong"},
		{"auth UriSecret2", "auth xxxxx"},
		{"Tok3nValue and ListSecret3", "xxxxx and xxxxx"},
		{"abc is short", "abc is short"},
		{"true story", "true story"},
		{"read /etc/pgrunbook/secret", "read /etc/pgrunbook/secret"},
		{"PGDATA /var/lib/postgresql/15/main", "PGDATA /var/lib/postgresql/15/main"},
		{"hostvars are added per host: NotAddedHere", "hostvars are added per host: NotAddedHere"},
		{"password=abc", "password=xxxxx"},
	} {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorLongestFirst(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("secret")
	r.AddSecret("secret-and-more")
	if got := r.Redact("x secret-and-more y"); got != "x xxxxx y" {
		t.Errorf("Redact = %q, want the longer secret masked whole", got)
	}
}

func TestNilRedactor(t *testing.T) {
	var r *Redactor
	r.AddSecret("whatever")
	if got := r.Redact("host=a password=pw1 whatever"); got != "host=a password=xxxxx whatever" {
		t.Errorf("nil Redact = %q", got)
	}
	var tg *Target
	tg.MarkSecret("x")
	(&Target{}).MarkSecret("y")
}

func TestRedactorEvent(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("Hunter22")
	diffs := []FileDiff{{Path: "/d/postgresql.auto.conf", Before: "", After: "primary_conninfo = 'host=a password=Hunter22'"}}
	ev := r.Event(Event{
		Type: EventStepEnd, Line: "echo Hunter22", Msg: "failed: Hunter22",
		Diffs: diffs, Progress: &Progress{Phase: "copy Hunter22"},
	})
	for _, s := range []string{ev.Line, ev.Msg, ev.Diffs[0].After, ev.Progress.Phase} {
		if strings.Contains(s, "Hunter22") {
			t.Errorf("event field not redacted: %q", s)
		}
	}
	if diffs[0].After != "primary_conninfo = 'host=a password=Hunter22'" {
		t.Errorf("Event changed the caller's diff in place: %q", diffs[0].After)
	}
}

func TestRedactorError(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("Hunter22")
	err := r.Error(&fs.PathError{Op: "open", Path: "/x/Hunter22", Err: fs.ErrNotExist})
	if strings.Contains(err.Error(), "Hunter22") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Error: %v (chain kept: %v)", err, errors.Is(err, fs.ErrNotExist))
	}
	plain := errors.New("nothing secret")
	if r.Error(plain) != plain {
		t.Error("Error wrapped an error with nothing to mask")
	}
	list := ErrorList{{Pos: Pos{File: "p.yml", Line: 3, Col: 5}, Step: "s", Msg: "variable \"x\": Hunter22"}}
	got := r.Error(list)
	var gl ErrorList
	if !errors.As(got, &gl) || strings.Contains(got.Error(), "Hunter22") || gl[0].Pos.Line != 3 {
		t.Errorf("Error(ErrorList) = %#v", got)
	}
	if list[0].Msg != "variable \"x\": Hunter22" {
		t.Error("Error changed the caller's ErrorList in place")
	}
	if r.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
