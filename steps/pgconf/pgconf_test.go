package pgconf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestParseGet(t *testing.T) {
	tests := []struct {
		name, text, key string
		want            string
		ok              bool
	}{
		{"equals", "port = 5432\n", "port", "5432", true},
		{"no equals", "port 5432\n", "port", "5432", true},
		{"no spaces", "port=5432", "port", "5432", true},
		{"quoted", "port = '5432'\n", "port", "5432", true},
		{"trailing comment", "port = 5432 # restart\n", "port", "5432", true},
		{"comment glued", "port = 5432#x\n", "port", "5432", true},
		{"case-insensitive", "Port = 1\n", "PORT", "1", true},
		{"last wins", "port = 1\nport = 2\n", "port", "2", true},
		{"commented out", "#port = 1\n", "port", "", false},
		{"doubled quote", "primary_conninfo = 'user=''a b'''\n", "primary_conninfo", "user='a b'", true},
		{"backslash quote", `a = 'it\'s'`, "a", "it's", true},
		{"backslash escapes", `a = 'x\ty\nz\\w\101'`, "a", "x\ty\nz\\wA", true},
		{"hash inside quotes", "a = 'x # y' # z\n", "a", "x # y", true},
		{"qualified", "auto_explain.log_min_duration = 250ms\n", "auto_explain.log_min_duration", "250ms", true},
		{"crlf", "port = 5432\r\n", "port", "5432", true},
		{"unterminated quote is no setting", "a = 'x\n", "a", "", false},
		{"junk after value is no setting", "a = x y\n", "a", "", false},
		{"no value is no setting", "a =\n", "a", "", false},
		{"include directive", "include_dir = 'conf.d'\n", "include_dir", "conf.d", true},
		{"empty file", "", "a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Parse([]byte(tt.text))
			got, ok := f.Get(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
			}
			if r := string(f.Render()); r != tt.text {
				t.Errorf("Render = %q; want %q", r, tt.text)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"on", "on"},
		{"replica", "'replica'"}, {"db1", "'db1'"}, {"OFF", "OFF"},
		{"5432", "5432"},
		{"64MB", "64MB"},
		{"-1", "-1"},
		{"0.9", "0.9"},
		{"", "''"},
		{"15/main", "'15/main'"},
		{"1.5GB", "'1.5GB'"},
		{"test ! -f /a/%f && cp %p /a/%f", "'test ! -f /a/%f && cp %p /a/%f'"},
		{"host=x user='a b'", "'host=x user=''a b'''"},
		{`C:\dir`, `'C:\\dir'`},
		{"two\nlines", `'two\nlines'`},
		{"*", "'*'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
		}
		if back := Unquote(Quote(tt.in)); back != tt.in {
			t.Errorf("Unquote(Quote(%q)) = %q", tt.in, back)
		}
	}
}

func TestSetUnset(t *testing.T) {
	tests := []struct {
		name, text   string
		set          [][2]string
		unset        []string
		want         string
		wantChanged  bool
		wantSettings int
	}{
		{"replace in place keeps comment", "port = 5432\t# restart\n", [][2]string{{"port", "5433"}}, nil, "port = 5433\t# restart\n", true, 1},
		{"semantic equal number", "port = '5432'\n", [][2]string{{"port", "5432"}}, nil, "port = '5432'\n", false, 1},
		{"semantic equal bool", "hot_standby = true\n", [][2]string{{"hot_standby", "on"}}, nil, "hot_standby = true\n", false, 1},
		{"case-insensitive key", "Port = 1\n", [][2]string{{"port", "2"}}, nil, "Port = 2\n", true, 1},
		{"earlier duplicates removed", "a = 1\nb = 2\na = 3\n", [][2]string{{"a", "3"}}, nil, "b = 2\na = 3\n", true, 2},
		{"append after commented", "#a = 1\nb = 2\n", [][2]string{{"a", "x y"}}, nil, "#a = 1\nb = 2\na = 'x y'\n", true, 2},
		{"append to unterminated", "b = 2", [][2]string{{"a", "1"}}, nil, "b = 2\na = 1\n", true, 2},
		{"append to empty", "", [][2]string{{"a", "1"}}, nil, "a = 1\n", true, 1},
		{"unset removes all active", "a = 1\n#a = 0\nb = 2\na = 3\n", nil, []string{"a"}, "#a = 0\nb = 2\n", true, 1},
		{"unset last unterminated", "b = 2\na = 3", nil, []string{"A"}, "b = 2\n", true, 1},
		{"unset missing", "b = 2\n", nil, []string{"a"}, "b = 2\n", false, 1},
		{"quoted value replaced", "c = 'old' # x\n", [][2]string{{"c", "it's"}}, nil, "c = 'it''s' # x\n", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Parse([]byte(tt.text))
			changed := false
			for _, kv := range tt.set {
				c, err := f.Set(kv[0], kv[1])
				if err != nil {
					t.Fatal(err)
				}
				changed = changed || c
			}
			for _, k := range tt.unset {
				c, err := f.Unset(k)
				if err != nil {
					t.Fatal(err)
				}
				changed = changed || c
			}
			if got := string(f.Render()); got != tt.want {
				t.Errorf("Render = %q; want %q", got, tt.want)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v; want %v", changed, tt.wantChanged)
			}
			if n := len(Parse(f.Render()).Settings()); n != tt.wantSettings {
				t.Errorf("%d settings after edit; want %d", n, tt.wantSettings)
			}
		})
	}
}

func TestSetRefusesBadKeys(t *testing.T) {
	for _, k := range []string{"", "a b", "1a", "a=b", "include", "INCLUDE_DIR", "include_if_exists"} {
		if _, err := new(File).Set(k, "x"); err == nil {
			t.Errorf("Set(%q) succeeded; want an error", k)
		}
	}
}

// TestGolden edits a Debian-style postgresql.conf and compares the result
// with testdata/edited.conf (rewrite it with -update).
func TestGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "postgresql.conf"))
	if err != nil {
		t.Fatal(err)
	}
	f := Parse(in)
	if got := f.Render(); !bytes.Equal(got, in) {
		t.Fatal("render of the unedited file differs from the input")
	}
	set := map[string]string{
		"listen_addresses": "*",
		"port":             "5433",
		"wal_level":        "replica",
		"archive_mode":     "on",
		"archive_command":  "test ! -f /a/%f && cp %p /a/%f",
		"primary_conninfo": "host=x user='a b'",
		"shared_buffers":   "128MB",
		"cluster_name":     "15/main",
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := f.Set(k, set[k]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Unset("hot_standby"); err != nil {
		t.Fatal(err)
	}
	got := f.Render()
	golden := filepath.Join("testdata", "edited.conf")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("edited file differs from %s:\n%s", golden, got)
	}
	for k, v := range set {
		if g, _ := Parse(got).Get(k); g != v {
			t.Errorf("after edit %s = %q; want %q", k, g, v)
		}
	}
	// A second pass changes nothing.
	g := Parse(got)
	for _, k := range keys {
		if c, _ := g.Set(k, set[k]); c {
			t.Errorf("second Set(%s) changed the file", k)
		}
	}
	if c, _ := g.Unset("hot_standby"); c {
		t.Error("second Unset changed the file")
	}
}
