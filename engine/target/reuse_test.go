package target

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRecycleAndOverwrite: a renamed file keeps its inode under the new
// name and is written over in place, bytes past what is written stay (a
// WAL segment copy writes every byte), a name that exists is never
// replaced, and a dry run touches nothing.
func TestRecycleAndOverwrite(t *testing.T) {
	root := newDataDir(t, 0o700)
	wal := filepath.Join(root, "pg_wal")
	if err := os.Mkdir(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	old, other := filepath.Join(wal, "000000010000000000000005"), filepath.Join(wal, "000000010000000000000006")
	for _, p := range []string{old, other} {
		if err := os.WriteFile(p, []byte("old old old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ino := func(p string) uint64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	before := ino(old)

	dry, err := Open(root, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := dry.Rename("pg_wal/000000010000000000000005", "pg_wal/000000020000000000000005"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a dry run renamed the file: %v", err)
	}

	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Rename("pg_wal/000000010000000000000005", "pg_wal/000000010000000000000006"); err == nil ||
		!strings.Contains(err.Error(), "the new name exists") {
		t.Fatalf("rename onto an existing file = %v, want a refusal", err)
	}
	if got := mustRead(t, other); got != "old old old" {
		t.Fatalf("the existing file was changed: %q", got)
	}
	renamed := filepath.Join(wal, "000000020000000000000005")
	if err := w.Rename("pg_wal/000000010000000000000005", "pg_wal/000000020000000000000005"); err != nil {
		t.Fatal(err)
	}
	if err := w.BeginOverwrite("pg_wal/000000020000000000000005"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("pg_wal/000000020000000000000005", 0, []byte("new"), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the old name is still there: %v", err)
	}
	if ino(renamed) != before {
		t.Fatal("the renamed file is not the same inode")
	}
	if got := mustRead(t, renamed); got != "new old old" {
		t.Fatalf("overwritten in place: %q, want %q", got, "new old old")
	}
	if err := w.Rename("pg_wal/000000010000000000000009", "pg_wal/00000002000000000000000A"); err == nil ||
		!strings.Contains(err.Error(), "000000010000000000000009") {
		t.Fatalf("renaming a missing file = %v, want an error naming it", err)
	}
	if err := w.Rename("../outside", "pg_wal/x"); err == nil {
		t.Fatal("a path outside the data directory was accepted")
	}
}
