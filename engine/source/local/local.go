package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
)

// bufSize is the read size; the copy is sequential, so a larger buffer than
// pg_rewind's 8 KiB only saves system calls.
const bufSize = 256 << 10

// Source reads a stopped cluster's data directory.
type Source struct {
	root string
}

var _ source.Source = (*Source)(nil)

// Open returns a source for the data directory root.
func Open(root string) (*Source, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("could not stat source data directory \"%s\": %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("source data directory \"%s\" is not a directory", root)
	}
	return &Source{root: root}, nil
}

// Root is the source data directory.
func (s *Source) Root() string { return s.root }

func (s *Source) resolve(path string) (string, error) {
	if err := filemap.CheckPath(path); err != nil {
		return "", fmt.Errorf("read source: %w", err)
	}
	return filepath.Join(s.root, filepath.FromSlash(path)), nil
}

// List walks the source data directory.
func (s *Source) List(ctx context.Context, fn func(filemap.File) error) error {
	return filemap.WalkDir(ctx, s.root, fn)
}

// FetchFile reads a whole file.
func (s *Source) FetchFile(ctx context.Context, path string) ([]byte, error) {
	full, err := s.resolve(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read file \"%s\": %w", full, err)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, fmt.Errorf("could not read file \"%s\": %w", full, err)
	}
	return b, nil
}

// Fetch copies the ranges in order, one at a time.
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, sink source.Sink) error {
	buf := make([]byte, bufSize)
	for _, r := range ranges {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fetch from source data directory: %w", err)
		}
		var err error
		if r.Whole {
			err = s.copyWhole(ctx, r, buf, sink)
		} else {
			err = s.copyRange(ctx, r, buf, sink)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// copyWhole copies the file to its end and checks that it still has the
// listed size: a local source must be stopped, so a change means the copy
// may be torn.
func (s *Source) copyWhole(ctx context.Context, r source.Range, buf []byte, sink source.Sink) error {
	full, err := s.resolve(r.Path)
	if err != nil {
		return err
	}
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("could not open source file \"%s\": %w", full, err)
	}
	defer f.Close()
	var copied int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy source file \"%s\": %w", full, err)
		}
		n, err := f.Read(buf)
		if n > 0 {
			if err := sink(r.Path, copied, buf[:n], false); err != nil {
				return err
			}
			copied += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("could not read file \"%s\": %w", full, err)
		}
	}
	if copied != r.Length {
		return fmt.Errorf("size of source file \"%s\" changed concurrently: %d bytes expected, %d copied", full, r.Length, copied)
	}
	return nil
}

// copyRange copies exactly the range; the file ending inside it is an
// error, since a stopped source cannot shrink.
func (s *Source) copyRange(ctx context.Context, r source.Range, buf []byte, sink source.Sink) error {
	full, err := s.resolve(r.Path)
	if err != nil {
		return err
	}
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("could not open source file \"%s\": %w", full, err)
	}
	defer f.Close()
	off, end := r.Offset, r.Offset+r.Length
	for off < end {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy source file \"%s\": %w", full, err)
		}
		want := min(int64(len(buf)), end-off)
		n, err := f.ReadAt(buf[:want], off)
		if n > 0 {
			if err := sink(r.Path, off, buf[:n], false); err != nil {
				return err
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) && off < end {
			return fmt.Errorf("unexpected EOF while reading file \"%s\"", full)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("could not read file \"%s\": %w", full, err)
		}
	}
	return nil
}

// CurrentInsertLSN is not available: a local source is stopped, and the
// rewind takes the end point from its control file instead.
func (s *Source) CurrentInsertLSN(ctx context.Context) (uint64, error) {
	return 0, errors.New("current WAL insert location: not available from a local source data directory")
}

// WALPosition is not available: a local source is stopped, and the rewind
// reads its end of WAL from its shutdown checkpoint instead.
func (s *Source) WALPosition(ctx context.Context) (uint64, error) {
	return 0, errors.New("current WAL position: not available from a local source data directory")
}

// Close has nothing to release.
func (s *Source) Close(ctx context.Context) error { return nil }
