package filemap

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestWalkDirSymlinkRules(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mk("base/5")
	mk("pg_tblspc")
	write("base/5/16384", "12345678")
	write("PG_VERSION", "15\n")
	// pg_wal lives elsewhere, as initdb -X makes it.
	if err := os.MkdirAll(filepath.Join(outside, "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "wal", "000000010000000000000001"), []byte("w"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "wal"), filepath.Join(root, "pg_wal")); err != nil {
		t.Fatal(err)
	}
	// A tablespace is followed.
	if err := os.MkdirAll(filepath.Join(outside, "ts", "PG_15_202209061", "5"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "ts"), filepath.Join(root, "pg_tblspc", "16385")); err != nil {
		t.Fatal(err)
	}
	// Any other link is reported but not followed.
	if err := os.Symlink(outside, filepath.Join(root, "custom_link")); err != nil {
		t.Fatal(err)
	}
	var got []File
	if err := WalkDir(context.Background(), root, func(f File) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "PG_VERSION", Type: TypeRegular, Size: 3},
		{Path: "base", Type: TypeDirectory},
		{Path: "base/5", Type: TypeDirectory},
		{Path: "base/5/16384", Type: TypeRegular, Size: 8},
		{Path: "custom_link", Type: TypeSymlink, LinkTarget: outside},
		{Path: "pg_tblspc", Type: TypeDirectory},
		{Path: "pg_tblspc/16385", Type: TypeSymlink, LinkTarget: filepath.Join(outside, "ts")},
		{Path: "pg_tblspc/16385/PG_15_202209061", Type: TypeDirectory},
		{Path: "pg_tblspc/16385/PG_15_202209061/5", Type: TypeDirectory},
		{Path: "pg_wal", Type: TypeSymlink, LinkTarget: filepath.Join(outside, "wal")},
		{Path: "pg_wal/000000010000000000000001", Type: TypeRegular, Size: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("walk:\n%+v\nwant:\n%+v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WalkDir(ctx, root, func(File) error { return nil }); err == nil {
		t.Fatal("walk with a cancelled context succeeded")
	}
}
