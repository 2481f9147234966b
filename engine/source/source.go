package source

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// Source is the data directory a rewind copies from.
type Source interface {
	// List reports every entry of the data directory to fn, in no
	// particular order. Paths are relative to the data directory and
	// checked with filemap.CheckPath before fn sees them; an unsafe path
	// fails the listing.
	List(ctx context.Context, fn func(filemap.File) error) error
	// FetchFile reads a whole small file, such as global/pg_control or a
	// timeline history file. A missing file is an error.
	FetchFile(ctx context.Context, path string) ([]byte, error)
	// Fetch reads the given ranges and passes each chunk to sink. Chunks of
	// one file arrive in order and from one goroutine; chunks of different
	// files may arrive concurrently when the source fetches in parallel.
	Fetch(ctx context.Context, ranges []Range, sink Sink) error
	// CurrentInsertLSN is the live source's current WAL insert location,
	// the end point of recovery after a rewind from a primary.
	CurrentInsertLSN(ctx context.Context) (uint64, error)
	// WALPosition is how far a live source's WAL reaches now: the insert
	// location of a primary, the furthest of the received and replayed
	// locations of a standby. A stopped source has none (its end of WAL
	// is its shutdown checkpoint, read from its WAL instead).
	WALPosition(ctx context.Context) (uint64, error)
	// Close releases connections and files.
	Close(ctx context.Context) error
}

// Range is a piece of a source file to fetch.
type Range struct {
	Path   string
	Offset int64
	Length int64
	// Whole marks a whole-file copy (COPY action); Offset must be 0 and
	// Length is the listed size. A remote source then fetches at least 1
	// MiB so that a small file that grew since the listing still arrives
	// whole; a local source fails if the file's size changed.
	Whole bool
}

// Sink receives fetched data: data belongs at offset of the target file
// path. vanished is true, with no data, when the source no longer has the
// file; the target copy should then be removed. data is only valid during
// the call. The target writer's Write method is a Sink.
type Sink func(path string, offset int64, data []byte, vanished bool) error
