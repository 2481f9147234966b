package target

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

func newDataDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(root, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "global"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0o077) // a strict umask must not narrow the data directory's modes
	defer syscall.Umask(old)
	tests := []struct {
		dirMode           os.FileMode
		wantFile, wantDir os.FileMode
	}{
		{0o700, 0o600, 0o700},
		{0o750, 0o640, 0o750},
	}
	for _, tt := range tests {
		root := newDataDir(t, tt.dirMode)
		w, err := Open(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.BeginCopy("new_file"); err != nil {
			t.Fatal(err)
		}
		if err := w.Write("new_file", 0, []byte("x"), false); err != nil {
			t.Fatal(err)
		}
		if err := w.CreateDir("new_dir"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		for _, c := range []struct {
			path string
			want os.FileMode
		}{{"new_file", tt.wantFile}, {"new_dir", tt.wantDir}} {
			st, err := os.Stat(filepath.Join(root, c.path))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != c.want {
				t.Errorf("data dir %o: %s mode %o, want %o", tt.dirMode, c.path, st.Mode().Perm(), c.want)
			}
		}
	}
}

func TestCopyRangeTruncateRemove(t *testing.T) {
	root := newDataDir(t, 0o700)
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := func(s string) string { return filepath.Join(root, s) }
	if err := os.WriteFile(p("postgresql.conf"), []byte("a much longer old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A whole-file copy truncates first, then chunks land at offsets, in any order.
	if err := w.BeginCopy("postgresql.conf"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("postgresql.conf", 4, []byte("5678"), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("postgresql.conf", 0, []byte("1234"), false); err != nil {
		t.Fatal(err)
	}
	// A range into an existing relation file keeps the rest.
	if err := os.MkdirAll(p("base/5"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("base/5/16384"), []byte("AAAABBBBCCCC"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("base/5/16384", 4, []byte("xxxx"), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p("postgresql.conf")); got != "12345678" {
		t.Fatalf("copied file = %q", got)
	}
	if got := mustRead(t, p("base/5/16384")); got != "AAAAxxxxCCCC" {
		t.Fatalf("range write = %q", got)
	}
	if err := w.Truncate("base/5/16384", 6); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p("base/5/16384")); got != "AAAAxx" {
		t.Fatalf("truncated = %q", got)
	}
	if err := w.Truncate("base/5/missing", 0); err == nil || !strings.Contains(err.Error(), "could not open file") || !strings.Contains(err.Error(), "for truncation") {
		t.Fatalf("truncate of a missing file: %v", err)
	}
	// A vanished chunk unlinks; a second one finds nothing and is fine.
	if err := w.Write("postgresql.conf", 0, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("postgresql.conf", 1<<20, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p("postgresql.conf")); !os.IsNotExist(err) {
		t.Fatalf("vanished file still there: %v", err)
	}
	// CREATE then REMOVE of a directory, a link and a file.
	if err := w.CreateDir("tst_dir"); err != nil {
		t.Fatal(err)
	}
	if err := w.CreateDir("tst_dir"); err == nil || !strings.Contains(err.Error(), `could not create directory "`) {
		t.Fatalf("second mkdir: %v", err)
	}
	if err := os.MkdirAll(p("pg_tblspc"), 0o700); err != nil {
		t.Fatal(err)
	}
	ts := t.TempDir()
	if err := w.Create(&filemap.FileEntry{Path: "pg_tblspc/16385", Source: filemap.Side{Exists: true, Type: filemap.TypeSymlink, LinkTarget: ts}}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(p("pg_tblspc/16385")); err != nil || got != ts {
		t.Fatalf("link = %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(ts, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove("pg_tblspc/16385", filemap.TypeSymlink); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ts, "keep")); err != nil {
		t.Fatalf("removing a link touched its target: %v", err)
	}
	if err := os.WriteFile(p("tst_dir/f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove("tst_dir", filemap.TypeDirectory); err == nil || !strings.Contains(err.Error(), `could not remove directory "`) {
		t.Fatalf("rmdir of a non-empty directory: %v", err)
	}
	if err := w.Remove("tst_dir/f", filemap.TypeRegular); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove("tst_dir", filemap.TypeDirectory); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove("tst_dir/f", filemap.TypeRegular); err == nil || !strings.Contains(err.Error(), `could not remove file "`) {
		t.Fatalf("removing a missing file: %v", err)
	}
}

func TestOpenErrorWording(t *testing.T) {
	root := newDataDir(t, 0o700)
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Write("no_such_dir/file", 0, []byte("x"), false)
	want := `could not open target file "` + filepath.Join(root, "no_such_dir/file") + `": `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
}

func TestUnsafePathsRefused(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "data")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, path := range []string{"../escaped", "/tmp/abs", "a/../../escaped", "", "a\x00b"} {
		ops := map[string]error{
			"BeginCopy":     w.BeginCopy(path),
			"Write":         w.Write(path, 0, []byte("x"), false),
			"Write/vanish":  w.Write(path, 0, nil, true),
			"Truncate":      w.Truncate(path, 0),
			"Remove":        w.Remove(path, filemap.TypeRegular),
			"CreateDir":     w.CreateDir(path),
			"CreateSymlink": w.CreateSymlink(path, "/"),
		}
		for op, err := range ops {
			if err == nil || !strings.Contains(err.Error(), "unsafe path") {
				t.Errorf("%s(%q) = %v, want an unsafe path error", op, path, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "escaped")); !os.IsNotExist(err) {
		t.Fatal("a write escaped the target directory")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	root := newDataDir(t, 0o700)
	if err := os.WriteFile(filepath.Join(root, "global", "pg_control"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "keep"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	w, err := Open(root, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	ops := []error{
		w.BeginCopy("keep"),
		w.Write("new", 0, []byte("x"), false),
		w.Write("keep", 0, nil, true),
		w.Truncate("keep", 0),
		w.Remove("keep", filemap.TypeRegular),
		w.CreateDir("newdir"),
		w.CreateSymlink("newlink", "/"),
		w.WriteBackupLabel(BackupLabel{StartWALFile: "000000010000000000000002", StartTime: time.Now()}),
		w.WriteControlFile(make([]byte, 8192)),
		w.Sync(context.Background()),
		w.Close(),
	}
	for i, err := range ops {
		if err != nil {
			t.Fatalf("dry-run op %d: %v", i, err)
		}
	}
	if after := snapshot(t, root); after != before {
		t.Fatalf("dry run changed the directory:\n%s\nwas:\n%s", after, before)
	}
}

func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			b.WriteString(" " + mustRead(t, p))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestBackupLabel(t *testing.T) {
	root := newDataDir(t, 0o750)
	if err := os.WriteFile(filepath.Join(root, "backup_label"), []byte(strings.Repeat("stale\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 27, 4, 30, 5, 0, time.Local)
	l := BackupLabel{StartLSN: 0x3000028, StartWALFile: "000000010000000000000003", CheckpointLSN: 0x10003000060, StartTime: start}
	if err := w.WriteBackupLabel(l); err != nil {
		t.Fatal(err)
	}
	want := "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n" +
		"CHECKPOINT LOCATION: 100/3000060\n" +
		"BACKUP METHOD: pg_rewind\n" +
		"BACKUP FROM: standby\n" +
		"START TIME: " + start.Format("2006-01-02 15:04:05 MST") + "\n"
	if got := mustRead(t, filepath.Join(root, "backup_label")); got != want {
		t.Fatalf("backup_label:\n%s\nwant:\n%s", got, want)
	}
	if err := w.WriteBackupLabel(BackupLabel{StartWALFile: "short"}); err == nil {
		t.Fatal("a bad WAL file name was accepted")
	}
}

func TestControlFileAndSync(t *testing.T) {
	root := newDataDir(t, 0o700)
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteControlFile(make([]byte, 8192)); err == nil {
		t.Fatal("writing a missing pg_control succeeded")
	}
	if err := os.WriteFile(filepath.Join(root, ControlFilePath), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	image := make([]byte, 8192)
	copy(image, "new control file")
	if err := w.WriteControlFile(image); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(root, ControlFilePath)); got != string(image) {
		t.Fatal("pg_control not rewritten")
	}
	// The sync walk follows pg_wal and tablespace links.
	wal := t.TempDir()
	if err := os.WriteFile(filepath.Join(wal, "000000010000000000000001"), []byte("w"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(wal, filepath.Join(root, "pg_wal")); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("base/x", 0, []byte("x"), false); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	if err := w.Write("global/x", 0, []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Sync(ctx); err == nil {
		t.Fatal("sync with a cancelled context succeeded")
	}
	var got []string
	if err := w.List(context.Background(), func(f filemap.File) error { got = append(got, f.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "global,global/pg_control,global/x,pg_wal,pg_wal/000000010000000000000001" {
		t.Fatalf("list = %v", got)
	}
}
