// Package layout holds the byte layouts of PostgreSQL's on-disk formats that
// change between major versions: the WAL page magic, the pg_control version
// and catalog version, the offsets of every pg_control and CheckPoint field,
// the full-page-image flag bits, the opcodes of the WAL records a rewind
// treats specially, and the rule that says which timeline a control file is
// on.
//
// Each major version has one table. Only tables marked Checked have been
// verified against a real server of that version (PostgreSQL 15 today); the
// others are listed so that the refusal can be precise, and For refuses them
// with an error that matches ErrUnchecked:
//
//	l, err := layout.For(15)           // ok
//	_, err = layout.For(16)            // errors.Is(err, layout.ErrUnchecked)
//	_, err = layout.For(9)             // errors.Is(err, layout.ErrUnknownMajor)
//
// A rewind must run on exactly the major version of both clusters, so callers
// usually start from the target's pg_control (FromControlVersion) or its
// PG_VERSION file (FromPGVersion).
package layout
