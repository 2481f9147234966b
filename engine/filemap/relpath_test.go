package filemap

import "testing"

func TestIsRelDataFile(t *testing.T) {
	const major, cat = 15, 202209061
	tests := []struct {
		path string
		want bool
	}{
		{"global/1262", true},
		{"global/1262.1", true},
		{"global/pg_control", false},
		{"global/1262_fsm", false},
		{"base/5/16384", true},
		{"base/5/16384.1", true},
		{"base/5/16384.12", true},
		{"base/5/16384.0", false},     // a first segment has no suffix
		{"base/5/016384", false},      // leading zero
		{"base/05/16384", false},      // leading zero in the database
		{"base/5/16384.01", false},    // leading zero in the segment
		{"base/5/16384_fsm", false},   // free space map
		{"base/5/16384_vm", false},    // visibility map
		{"base/5/16384_init", false},  // init fork of an unlogged table
		{"base/5/16384_fsm.1", false}, // fork segment
		{"base/5/t3_1234", false},     // temporary relation
		{"base/5/16384x", false},      // trailing junk
		{"base/5/16384.1x", false},
		{"base/5/PG_VERSION", false},
		{"base/5/pg_filenode.map", false},
		{"base/5", false},
		{"base/5/16384/1", false},
		{"base/5/4294967296", false}, // does not fit an OID
		{"base/5/4294967295", true},
		{"base/5/0", true},
		{"base/5/-1", false},
		{"base/5/+1", false},
		{"base/pgsql_tmp/pgsql_tmp123.0", false},
		{"pg_tblspc/16385/PG_15_202209061/5/16386", true},
		{"pg_tblspc/16385/PG_15_202209061/5/16386.3", true},
		{"pg_tblspc/16385/PG_15_202209061/5/16386_vm", false},
		{"pg_tblspc/16385/PG_14_202107181/5/16386", false}, // another version's directory
		{"pg_tblspc/16385/PG_15_202209061/5", false},
		{"pg_tblspc/016385/PG_15_202209061/5/16386", false},
		{"pg_wal/000000010000000000000001", false},
		{"pg_xact/0000", false},
		{"16384", false},
	}
	for _, tt := range tests {
		if got := IsRelDataFile(tt.path, major, cat); got != tt.want {
			t.Errorf("IsRelDataFile(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestRelPath(t *testing.T) {
	tests := []struct {
		rel   RelFileNode
		fork  ForkNumber
		segno uint32
		want  string
	}{
		{RelFileNode{1664, 0, 1262}, ForkMain, 0, "global/1262"},
		{RelFileNode{1663, 5, 16384}, ForkMain, 0, "base/5/16384"},
		{RelFileNode{1663, 5, 16384}, ForkMain, 2, "base/5/16384.2"},
		{RelFileNode{1663, 5, 16384}, ForkFSM, 0, "base/5/16384_fsm"},
		{RelFileNode{1663, 5, 16384}, ForkVisibilityMap, 1, "base/5/16384_vm.1"},
		{RelFileNode{1663, 5, 16384}, ForkInit, 0, "base/5/16384_init"},
		{RelFileNode{16385, 5, 16386}, ForkMain, 0, "pg_tblspc/16385/PG_15_202209061/5/16386"},
	}
	for _, tt := range tests {
		if got := RelPath(tt.rel, tt.fork, tt.segno, 15, 202209061); got != tt.want {
			t.Errorf("RelPath(%v, %d, %d) = %q, want %q", tt.rel, tt.fork, tt.segno, got, tt.want)
		}
	}
}
