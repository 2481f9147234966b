// Package local is the --source-pgdata source: the data directory of a
// cleanly stopped cluster on the same machine, read directly from disk.
//
// The listing follows pg_rewind's local walk (lstat; only pg_wal and
// tablespace links are followed). Because the source is meant to be
// stopped, a file whose size differs from the listing while it is copied
// whole is an error, with pg_rewind's wording:
//
//	size of source file "/src/base/1/1234" changed concurrently: 8192 bytes expected, 16384 copied
package local
