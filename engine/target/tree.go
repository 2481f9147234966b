package target

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// List walks the target data directory with pg_rewind's rules (lstat;
// symbolic links followed only for pg_wal and pg_tblspc entries), feeding
// each entry to fn; filemap.Map.AddTarget fits.
func (w *Writer) List(ctx context.Context, fn func(filemap.File) error) error {
	return filemap.WalkDir(ctx, w.root, fn)
}

// Remove deletes a target path of the given type (REMOVE action): rmdir for
// a directory, unlink for a file or a symbolic link. The target's listed
// type decides, so a tablespace link is unlinked, never followed.
func (w *Writer) Remove(path string, typ filemap.FileType) error {
	if w.opts.DryRun {
		return nil
	}
	full, err := w.resolve(path)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.closeFile(path)
	w.mu.Unlock()
	switch typ {
	case filemap.TypeDirectory:
		if err := removeDir(full); err != nil {
			return fmt.Errorf("could not remove directory \"%s\": %w", full, err)
		}
	case filemap.TypeRegular:
		if err := removeNonDir(full); err != nil {
			return fmt.Errorf("could not remove file \"%s\": %w", full, err)
		}
	case filemap.TypeSymlink:
		if err := removeNonDir(full); err != nil {
			return fmt.Errorf("could not remove symbolic link \"%s\": %w", full, err)
		}
	default:
		return fmt.Errorf("remove target \"%s\": unknown file type %d", full, typ)
	}
	return nil
}

// removeDir is rmdir(2): it never removes contents, so a directory that
// still holds unexpected files is an error, as in pg_rewind.
func removeDir(full string) error {
	st, err := os.Lstat(full)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return os.Remove(full)
}

// removeNonDir is unlink(2): it refuses directories, which os.Remove would
// otherwise try with rmdir.
func removeNonDir(full string) error {
	st, err := os.Lstat(full)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	return os.Remove(full)
}

// CreateDir makes a directory that only the source has (CREATE action).
func (w *Writer) CreateDir(path string) error {
	if w.opts.DryRun {
		return nil
	}
	full, err := w.resolve(path)
	if err != nil {
		return err
	}
	if err := os.Mkdir(full, w.dirMode); err != nil {
		return fmt.Errorf("could not create directory \"%s\": %w", full, err)
	}
	if err := os.Chmod(full, w.dirMode); err != nil {
		return fmt.Errorf("could not set mode of directory \"%s\": %w", full, err)
	}
	return nil
}

// CreateSymlink makes a symbolic link at path pointing at link, the
// source's tablespace location (CREATE action for a link).
func (w *Writer) CreateSymlink(path, link string) error {
	if w.opts.DryRun {
		return nil
	}
	full, err := w.resolve(path)
	if err != nil {
		return err
	}
	if err := os.Symlink(link, full); err != nil {
		return fmt.Errorf("could not create symbolic link at \"%s\": %w", full, err)
	}
	return nil
}

// Create performs the CREATE action of a file map entry.
func (w *Writer) Create(e *filemap.FileEntry) error {
	switch e.Source.Type {
	case filemap.TypeDirectory:
		return w.CreateDir(e.Path)
	case filemap.TypeSymlink:
		return w.CreateSymlink(e.Path, e.Source.LinkTarget)
	default:
		return fmt.Errorf("create target \"%s\": cannot create a %s", e.Path, e.Source.Type)
	}
}
