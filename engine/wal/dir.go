package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Fetcher obtains a missing WAL segment. It must leave the complete file
// named name at dest (a path inside pg_wal), or return an error. Like
// pg_rewind's restore, the file stays in pg_wal afterwards.
type Fetcher func(ctx context.Context, name, dest string) error

// Dir is a PageSource over a pg_wal directory. It keeps the current segment
// file open between pages and, when a segment is missing, asks its Fetcher
// (if any) for it before giving up.
type Dir struct {
	path    string
	segSize uint32
	fetch   Fetcher

	file *os.File
	name string
	// tli and seg identify the open file, so that the pages after the
	// first find it without formatting its name again.
	tli lsn.TimeLineID
	seg lsn.SegNo
}

// NewDir returns a source reading segment files of segSize bytes from the
// pg_wal directory path. fetch may be nil.
func NewDir(path string, segSize uint32, fetch Fetcher) *Dir {
	return &Dir{path: path, segSize: segSize, fetch: fetch}
}

// ReadPage implements PageSource.
func (d *Dir) ReadPage(ctx context.Context, tli lsn.TimeLineID, seg lsn.SegNo, off uint32, buf []byte) error {
	if d.file == nil || d.tli != tli || d.seg != seg {
		if err := d.open(ctx, lsn.SegmentName(tli, seg, d.segSize)); err != nil {
			return err
		}
		d.tli, d.seg = tli, seg
	}
	name := d.name
	n, err := d.file.ReadAt(buf, int64(off))
	if err == io.EOF && n < len(buf) {
		return fmt.Errorf("could not read file \"%s\": read %d of %d at offset %d (truncated segment)",
			filepath.Join(d.path, name), n, len(buf), off)
	}
	if err != nil && n < len(buf) {
		return fmt.Errorf("could not read file \"%s\": %w", filepath.Join(d.path, name), err)
	}
	return nil
}

// open makes name the current segment file, fetching it if it is missing.
func (d *Dir) open(ctx context.Context, name string) error {
	if d.file != nil && d.name == name {
		return nil
	}
	if err := d.Close(); err != nil {
		return err
	}
	path := filepath.Join(d.path, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && d.fetch != nil {
		if ferr := d.fetch(ctx, name, path); ferr != nil {
			return &MissingSegmentError{Dir: d.path, Name: name, Err: err, FetchErr: ferr}
		}
		if err = d.checkSize(path); err != nil {
			return err
		}
		f, err = os.Open(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return &MissingSegmentError{Dir: d.path, Name: name, Err: err}
	}
	if err != nil {
		return fmt.Errorf("could not open file \"%s\": %w", path, err)
	}
	d.file, d.name = f, name
	return nil
}

// checkSize insists that a fetched segment is whole: a partial copy would
// otherwise read as a WAL end or a corrupt record much later.
func (d *Dir) checkSize(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat restored file \"%s\": %w", path, err)
	}
	if st.Size() != int64(d.segSize) {
		return fmt.Errorf("unexpected file size for \"%s\": %d instead of %d", path, st.Size(), d.segSize)
	}
	return nil
}

// Close closes the current segment file, if any.
func (d *Dir) Close() error {
	if d.file == nil {
		return nil
	}
	err := d.file.Close()
	d.file, d.name = nil, ""
	if err != nil {
		return fmt.Errorf("close WAL segment: %w", err)
	}
	return nil
}
