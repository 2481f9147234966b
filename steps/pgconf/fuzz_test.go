package pgconf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRender checks that any input renders back byte for byte, and
// that a Set on any input is read back by a fresh Parse, leaves one active
// line for the key, and is idempotent.
func FuzzParseRender(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "postgresql.conf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "primary_conninfo", "host=x user='a b'")
	f.Add([]byte("a = 'x\\'y' # c\r\nb 1"), "b", "on")
	f.Add([]byte(""), "port", "5432")
	f.Add([]byte("x = '\\"), "x", "\\")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		file := Parse(data)
		if got := file.Render(); !bytes.Equal(got, data) && !(len(data) == 0 && len(got) == 0) {
			t.Fatalf("render differs:\n in %q\nout %q", data, got)
		}
		if !ValidKey(key) || directives[lower(key)] {
			return
		}
		if _, err := file.Set(key, value); err != nil {
			t.Fatal(err)
		}
		out := file.Render()
		again := Parse(out)
		got, ok := again.Get(key)
		if !ok || !Equal(got, value) {
			t.Fatalf("after Set(%q, %q): Get = %q, %v\n%s", key, value, got, ok, out)
		}
		n := 0
		for _, s := range again.Settings() {
			if lower(s.Name) == lower(key) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d active lines for %q after Set:\n%s", n, key, out)
		}
		if c, _ := again.Set(key, value); c {
			t.Fatalf("second Set(%q, %q) changed:\n%s", key, value, out)
		}
	})
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }
