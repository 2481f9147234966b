package engine

import "errors"

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
		return ErrNoHints
	case !tgt.State.CleanlyShutDown():
		return ErrTargetNotShutDown
	case r.local && !src.State.CleanlyShutDown():
		return ErrSourceNotShutDown
	}
	return nil
}
