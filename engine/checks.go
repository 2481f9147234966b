package engine

import (
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/target"
)

// The sanity check failures, in pg_rewind's words.
var (
	ErrDifferentSystems    = errors.New("source and target clusters are from different systems")
	ErrIncompatible        = errors.New(errIncompatible)
	ErrNoHints             = errors.New(`target server needs to use either data checksums or "wal_log_hints = on"`)
	ErrTargetNotShutDown   = errors.New("target server must be shut down cleanly")
	ErrSourceNotShutDown   = errors.New("source data directory must be shut down cleanly")
	ErrSourceModified      = errors.New("source system was modified while pg_rewind was running")
	ErrSourceUnexpected    = errors.New("source system was in unexpected state at end of rewind")
	ErrRestoreCommandUnset = errors.New("restore_command is not set in the target cluster")
)

// sanityChecks refuses clusters that cannot be rewound into each other, in
// pg_rewind's order. Without data checksums or wal_log_hints, pages that
// changed only by hint bits leave no trace in the WAL, so the block scan
// would miss them.
func (r *run) sanityChecks() error {
	src, tgt := r.srcCF, r.tgtCF
	switch {
	case src.SystemIdentifier != tgt.SystemIdentifier:
		return ErrDifferentSystems
	case src.Layout.Major != tgt.Layout.Major ||
		src.ControlVersion != tgt.ControlVersion || src.CatalogVersion != tgt.CatalogVersion:
		return ErrIncompatible
	case tgt.DataChecksumVersion == 0 && !tgt.WalLogHints:
		return &Error{
			Msg: ErrNoHints.Error(),
			Detail: fmt.Sprintf("%s says data checksums off and wal_log_hints off at the last shutdown of %s; "+
				"hint-bit-only changes since then left no WAL, so rebuild this node from the source (pg_basebackup)",
				target.ControlFilePath, r.opts.TargetDir),
			Err: ErrNoHints,
		}
	case !tgt.State.CleanlyShutDown():
		return ErrTargetNotShutDown
	case r.local && !src.State.CleanlyShutDown():
		return ErrSourceNotShutDown
	}
	return nil
}
