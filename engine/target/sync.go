package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// Sync makes the whole target durable: first every regular file is
// fsynced, then every directory, deepest first, so that the directory
// entries of new files are flushed after the files themselves. pg_wal and
// tablespaces are reached through their links. Nothing happens in dry-run
// or no-sync mode. Open target files are closed first.
func (w *Writer) Sync(ctx context.Context) error {
	if w.opts.DryRun || w.opts.NoSync {
		return nil
	}
	if err := w.Close(); err != nil {
		return err
	}
	var files []string
	dirs := []string{""}
	err := filemap.WalkDir(ctx, w.root, func(f filemap.File) error {
		switch f.Type {
		case filemap.TypeRegular:
			files = append(files, f.Path)
		case filemap.TypeDirectory:
			dirs = append(dirs, f.Path)
		case filemap.TypeSymlink:
			if f.Path == "pg_wal" || strings.HasPrefix(f.Path, "pg_tblspc/") && strings.Count(f.Path, "/") == 1 {
				dirs = append(dirs, f.Path)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync target data directory: %w", err)
	}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync target data directory: %w", err)
		}
		if err := fsyncPath(filepath.Join(w.root, p)); err != nil {
			return err
		}
	}
	sort.SliceStable(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	for _, p := range dirs {
		if err := fsyncPath(filepath.Join(w.root, p)); err != nil {
			return err
		}
	}
	return nil
}

func depth(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// fsyncPath flushes one file or directory; a file that vanished since the
// walk is not an error (the server may delete files while it runs, and a
// concurrent removal is harmless for durability).
func fsyncPath(full string) error {
	f, err := os.Open(full)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("could not open file \"%s\": %w", full, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("could not fsync file \"%s\": %w", full, err)
	}
	return nil
}
