// Package pgconf reads and edits files in postgresql.conf syntax
// (postgresql.conf, postgresql.auto.conf, recovery.conf) without disturbing
// anything it was not asked to change.
//
// A File keeps every line exactly as it was read: comments, blank lines,
// include directives, unrelated settings and even lines PostgreSQL would
// reject. Only the lines of the keys passed to Set and Unset are touched, so
// Render of an unedited File reproduces the input byte for byte and a diff of
// an edit shows just the edit.
//
//	f := pgconf.Parse(data)
//	f.Set("primary_conninfo", "host=10.77.0.12 user=rewind")
//	f.Unset("restore_command")
//	os.WriteFile(path, f.Render(), 0o600)
//
// Keys are case-insensitive and the last active occurrence of a key wins, as
// in PostgreSQL. Set rewrites the value of that last occurrence in place
// (keeping its spacing and trailing comment) and removes the earlier ones, so
// exactly one active line remains; a key that has no active line is appended
// at the end of the file. Appending (rather than placing the line next to a
// commented-out "#key = ..." template line) is deliberate: a later include
// directive, such as Debian's `include_dir = 'conf.d'`, would otherwise
// override the new value, and the point of setting a key is that it takes
// effect.
//
// Values are compared by meaning, not by spelling: `port = 5432` and
// `port = '5432'` hold the same value, and so do `on` and `true` when both
// are boolean words. Quote renders a value the way PostgreSQL expects it:
// numbers (with an optional unit) and simple words bare, everything else in
// single quotes with embedded quotes doubled.
package pgconf
