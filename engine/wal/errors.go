package wal

import (
	"errors"
	"fmt"

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
	// Err is the failure to open the file, or the fetcher's failure.
	Err error
}

// Error names the file as pg_rewind does and says how to supply it.
func (e *MissingSegmentError) Error() string {
	return fmt.Sprintf("could not open file \"%s/%s\": %v; WAL segment %s is missing from %s: "+
		"copy it back from the WAL archive, or run with -c (--restore-target-wal) so that restore_command fetches it",
		e.Dir, e.Name, e.Err, e.Name, e.Dir)
}

// Unwrap returns the underlying open or fetch error.
func (e *MissingSegmentError) Unwrap() error {
	return e.Err
}

// recordError is the "<problem> at X/Y" family of PostgreSQL messages.
func recordError(at lsn.LSN, format string, args ...any) error {
	return fmt.Errorf(format+" at %s", append(args, at)...)
}
