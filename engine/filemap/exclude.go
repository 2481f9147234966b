package filemap

import "strings"

// excludedDirContents are top-level directories whose contents the server
// removes or rebuilds at startup; the directories themselves are kept. The
// list matches pg_rewind 15 (and basebackup's), so replication slots on the
// target are deleted, as with pg_rewind.
var excludedDirContents = []string{
	"pg_stat_tmp",
	"pg_replslot",
	"pg_dynshmem",
	"pg_notify",
	"pg_serial",
	"pg_snapshots",
	"pg_subtrans",
}

// excludedFile is a base name that is never copied; prefix entries match any
// name that starts with the text.
type excludedFile struct {
	name   string
	prefix bool
}

var excludedFiles = []excludedFile{
	{"postgresql.auto.conf.tmp", false},
	{"current_logfiles.tmp", false},
	{"pg_internal.init", true}, // also pg_internal.init.<pid> leftovers
	{"backup_label", false},
	{"tablespace_map", false},
	{"backup_manifest", false},
	{"postmaster.pid", false},
	{"postmaster.opts", false},
}

// IsExcluded reports whether path is left out of the rewind: temporary files
// and directories ("/pgsql_tmp" anywhere after a slash), the per-file list
// matched on the base name, and the contents of the startup-reset
// directories (matched from the start of the path only).
func IsExcluded(path string) bool {
	if strings.Contains(path, "/pgsql_tmp") {
		return true
	}
	base := path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		base = path[i+1:]
	}
	for _, f := range excludedFiles {
		if base == f.name || (f.prefix && strings.HasPrefix(base, f.name)) {
			return true
		}
	}
	for _, d := range excludedDirContents {
		if strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}
