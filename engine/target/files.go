package target

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// openFile opens (creating if needed) the target file at path and caches the
// handle. With trunc it truncates the file, as the first write of a
// whole-file copy must: a source file that has shrunk or vanished must not
// leave stale bytes behind. The caller holds w.mu for writing.
func (w *Writer) openFile(path string, trunc bool) (*os.File, error) {
	if f, ok := w.open[path]; ok {
		if !trunc {
			return f, nil
		}
		f.Close()
		delete(w.open, path)
	}
	full, err := w.resolve(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, w.fileMode)
	switch {
	case err == nil:
		// The process umask may have narrowed the mode; the data
		// directory's rule wins, as it does for the server.
		if err := f.Chmod(w.fileMode); err != nil {
			f.Close()
			return nil, fmt.Errorf("could not set mode of target file \"%s\": %w", full, err)
		}
	case errors.Is(err, fs.ErrExist):
		flags := os.O_WRONLY
		if trunc {
			flags |= os.O_TRUNC
		}
		f, err = os.OpenFile(full, flags, w.fileMode)
		if err != nil {
			return nil, fmt.Errorf("could not open target file \"%s\": %w", full, err)
		}
	default:
		return nil, fmt.Errorf("could not open target file \"%s\": %w", full, err)
	}
	if len(w.open) >= maxOpenFiles {
		for p, old := range w.open {
			old.Close()
			delete(w.open, p)
			break
		}
	}
	w.open[path] = f
	return f, nil
}

// closeFile drops a cached handle before the path is removed or replaced.
// The caller holds w.mu for writing.
func (w *Writer) closeFile(path string) {
	if f, ok := w.open[path]; ok {
		f.Close()
		delete(w.open, path)
	}
}

// BeginCopy creates or truncates the target file for a whole-file copy. It
// is called when the copy is queued, before any data arrives, as pg_rewind
// does, so a file that turns out empty or vanished is not left stale.
func (w *Writer) BeginCopy(path string) error {
	if w.opts.DryRun {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.openFile(path, true)
	return err
}

// Write stores data at offset in the target file, or, when vanished is
// true, removes the target file because the source no longer has it
// (missing is fine: several chunks of one file may report it). Its
// signature matches source.Sink. Concurrent calls must write distinct
// ranges.
func (w *Writer) Write(path string, offset int64, data []byte, vanished bool) error {
	if w.opts.DryRun {
		return nil
	}
	if vanished {
		return w.removeVanished(path)
	}
	w.mu.RLock()
	f, ok := w.open[path]
	if ok {
		err := writeAt(f, data, offset)
		w.mu.RUnlock()
		return err
	}
	w.mu.RUnlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := w.openFile(path, false)
	if err != nil {
		return err
	}
	return writeAt(f, data, offset)
}

func writeAt(f *os.File, data []byte, offset int64) error {
	if _, err := f.WriteAt(data, offset); err != nil {
		return fmt.Errorf("could not write file \"%s\": %w", f.Name(), err)
	}
	return nil
}

func (w *Writer) removeVanished(path string) error {
	full, err := w.resolve(path)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.closeFile(path)
	w.mu.Unlock()
	if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("could not remove file \"%s\": %w", full, err)
	}
	return nil
}

// Truncate cuts an existing target file to size (TRUNCATE action).
func (w *Writer) Truncate(path string, size int64) error {
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
	f, err := os.OpenFile(full, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("could not open file \"%s\" for truncation: %w", full, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("could not truncate file \"%s\" to %d: %w", full, size, err)
	}
	return nil
}

// BeginOverwrite readies an existing target file for a whole-file copy
// without truncating it: the copy overwrites every byte in place, so the
// file system neither frees its blocks nor allocates new ones. Only for
// files whose every byte the copy writes (WAL segments, which are always
// full size); a missing file is created.
func (w *Writer) BeginOverwrite(path string) error {
	if w.opts.DryRun {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.openFile(path, false)
	return err
}

// Rename moves the target file at from to to, replacing nothing: a file
// already at to is an error. The rewind renames a WAL segment it would
// remove to the name of one the source has and the target lacks, and then
// overwrites it, as the server recycles its own segments.
func (w *Writer) Rename(from, to string) error {
	if w.opts.DryRun {
		return nil
	}
	src, err := w.resolve(from)
	if err != nil {
		return err
	}
	dst, err := w.resolve(to)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.closeFile(from)
	w.closeFile(to)
	w.mu.Unlock()
	switch _, err := os.Lstat(dst); {
	case err == nil:
		return fmt.Errorf("could not rename file \"%s\" to \"%s\": the new name exists", src, dst)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("could not rename file \"%s\" to \"%s\": %w", src, dst, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("could not rename file \"%s\" to \"%s\": %w", src, dst, err)
	}
	return nil
}
