package rewindtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewinderFromEnv(t *testing.T) {
	tests := []struct{ env, want string }{
		{"", DefaultBin},
		{"/opt/pgrunbook/pg_rewind", "/opt/pgrunbook/pg_rewind"},
	}
	for _, tt := range tests {
		t.Setenv(EnvBin, tt.env)
		if got := RewinderFromEnv().Path; got != tt.want {
			t.Errorf("%s=%q: Path = %q, want %q", EnvBin, tt.env, got, tt.want)
		}
	}
}

func TestSegmentFileName(t *testing.T) {
	tests := []struct {
		tli  uint32
		seg  uint64
		want string
	}{
		{1, 0, "000000010000000000000000"},
		{1, 8, "000000010000000000000008"},
		{2, 255, "0000000200000000000000FF"},
		{1, 256, "000000010000000100000000"},
		{0x1A, 0x1234, "0000001A0000001200000034"},
	}
	for _, tt := range tests {
		if got := segmentFileName(tt.tli, tt.seg); got != tt.want {
			t.Errorf("segmentFileName(%d, %d) = %s, want %s", tt.tli, tt.seg, got, tt.want)
		}
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 5, "a\nb\nc"},
		{"a\nb\nc\n", 2, "[... 1 lines ...]\nb\nc"},
		{"", 2, ""},
	}
	for _, tt := range tests {
		if got := tail(tt.in, tt.n); got != tt.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCheckModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]os.FileMode{"ok": 0o600, "sub/ok": 0o600, "sub/loose": 0o644}
	for name, perm := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/nonexistent", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	bad, err := CheckModes(dir, 0o700, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0], "sub/loose") {
		t.Fatalf("CheckModes = %q, want only sub/loose reported", bad)
	}
}

func TestSnapshotTreeDiff(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("same", "x")
	write("grows", "x")
	write("goes", "x")
	before, err := SnapshotTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("grows", "xx")
	write("comes", "x")
	if err := os.Remove(filepath.Join(dir, "goes")); err != nil {
		t.Fatal(err)
	}
	after, err := SnapshotTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	diff := before.Diff(after)
	want := []string{"added comes", "changed grows", "changed .", "removed goes"}
	if len(diff) != len(want) {
		t.Fatalf("Diff = %q, want entries for %q", diff, want)
	}
	for _, w := range want {
		found := false
		for _, d := range diff {
			if strings.HasPrefix(d, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("Diff = %q, lacks %q", diff, w)
		}
	}
	if d := after.Diff(after); len(d) != 0 {
		t.Errorf("a tree differs from itself: %q", d)
	}
}
