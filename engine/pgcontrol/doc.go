// Package pgcontrol reads and writes global/pg_control, the 8192-byte file in
// which PostgreSQL records its cluster state, latest checkpoint and
// compile-time settings.
//
// Parse checks the file the way pg_rewind does (exact size, CRC-32C, a WAL
// segment size that is a power of two between 1 MiB and 1 GiB) and decodes
// every field of ControlFileData using the offsets of the cluster's major
// version from package layout. Marshal goes the other way without losing
// anything: it patches the modelled fields into a copy of the bytes that
// were parsed and recomputes the CRC, so bytes this package does not know
// about stay exactly as they were.
//
//	cf, err := pgcontrol.Read(filepath.Join(pgdata, "global", "pg_control"))
//	if err != nil { ... }
//	cf.State = pgcontrol.InArchiveRecovery
//	cf.MinRecoveryPoint = end
//	err = pgcontrol.Write(path, cf.Marshal(), true)
//
// Write overwrites the file in place, as PostgreSQL itself does: 8192 bytes
// fit one sector-aligned write. Keeping a backup copy first is the caller's
// job.
package pgcontrol
