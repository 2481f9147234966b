package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ErrEndOfWAL is matched (errors.Is) by the error a Reader returns where
// the WAL ends: a record header whose length is zero, or a page that was
// never written. Callers scanning to the end treat it as a normal stop.
var ErrEndOfWAL = errors.New("end of WAL")

// MissingSegmentError reports a WAL segment file that is neither in pg_wal
// nor obtainable from the fetcher. It names the file, because the remedy is
// to put that very file back.
type MissingSegmentError struct {
	// Dir is the pg_wal directory that was searched.
	Dir string
	// Name is the segment file name, e.g. 000000010000000000000008.
	Name string
	// Err is the failure to open the file.
	Err error
	// FetchErr is the fetcher's failure, when there was a fetcher.
	FetchErr error
}

// Error names the file as pg_rewind does and says how to supply it.
func (e *MissingSegmentError) Error() string {
	reason := e.Err
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		// The path is already in the message.
		reason = pe.Err
	}
	msg := fmt.Sprintf("could not open file \"%s\": %v", filepath.Join(e.Dir, e.Name), reason)
	if e.FetchErr != nil {
		return fmt.Sprintf("%s; fetching it failed: %v; WAL segment %s is missing from %s and was not fetched", msg, e.FetchErr, e.Name, e.Dir)
	}
	return fmt.Sprintf("%s; WAL segment %s is missing from %s: copy it back from the WAL archive, "+
		"or run with -c (--restore-target-wal) so that restore_command fetches it", msg, e.Name, e.Dir)
}

// Unwrap returns the open error and the fetch error, if any.
func (e *MissingSegmentError) Unwrap() []error {
	return []error{e.Err, e.FetchErr}
}

// recordError is the "<problem> at X/Y" family of PostgreSQL messages.
func recordError(at lsn.LSN, format string, args ...any) error {
	return fmt.Errorf(format+" at %s", append(args, at)...)
}
