package filemap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// WalkDir lists a local data directory the way pg_rewind lists one: entries
// are examined with lstat, so a symbolic link is reported as TypeSymlink
// with its readlink target, and the walk descends through a link only for
// pg_wal and for the entries directly under pg_tblspc (the tablespaces).
// Other links are reported but not followed. Entries that vanish during the
// walk are skipped, and sockets or FIFOs are not reported. Directories are
// reported before their contents, in name order.
func WalkDir(ctx context.Context, root string, fn func(File) error) error {
	return walkDir(ctx, root, "", fn)
}

func walkDir(ctx context.Context, root, rel string, fn func(File) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list directory %s: %w", filepath.Join(root, rel), err)
	}
	dir := filepath.Join(root, rel)
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && rel != "" {
			return nil
		}
		return fmt.Errorf("could not open directory \"%s\": %w", dir, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("could not read directory \"%s\": %w", dir, err)
	}
	sort.Strings(names)
	for _, name := range names {
		path := name
		if rel != "" {
			path = rel + "/" + name
		}
		full := filepath.Join(root, path)
		st, err := os.Lstat(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("could not stat file \"%s\": %w", full, err)
		}
		switch mode := st.Mode(); {
		case mode.IsRegular():
			if err := fn(File{Path: path, Type: TypeRegular, Size: st.Size()}); err != nil {
				return err
			}
		case mode.IsDir():
			if err := fn(File{Path: path, Type: TypeDirectory}); err != nil {
				return err
			}
			if err := walkDir(ctx, root, path, fn); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(full)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("could not read symbolic link \"%s\": %w", full, err)
			}
			if err := fn(File{Path: path, Type: TypeSymlink, LinkTarget: link}); err != nil {
				return err
			}
			if rel == "pg_tblspc" || path == "pg_wal" {
				if err := walkDir(ctx, root, path, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
