package filemap

import "testing"

func TestIsExcluded(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"base/pgsql_tmp", true},
		{"base/pgsql_tmp/pgsql_tmp1234.0", true},
		{"base/5/pgsql_tmp1234", true},
		{"pg_tblspc/16385/PG_15_202209061/pgsql_tmp/x", true},
		{"pgsql_tmp", false}, // only after a slash, as pg_rewind matches
		{"postgresql.auto.conf.tmp", true},
		{"postgresql.auto.conf", false},
		{"current_logfiles.tmp", true},
		{"current_logfiles", false},
		{"global/pg_internal.init", true},
		{"base/5/pg_internal.init", true},
		{"base/5/pg_internal.init.1234", true}, // prefix match
		{"backup_label", true},
		{"backup_label.old", false},
		{"tablespace_map", true},
		{"tablespace_map.old", false},
		{"backup_manifest", true},
		{"postmaster.pid", true},
		{"postmaster.opts", true},
		{"sub/postmaster.pid", true}, // base name match anywhere
		{"pg_stat_tmp", false},       // the directory itself stays
		{"pg_stat_tmp/global.stat", true},
		{"pg_replslot", false},
		{"pg_replslot/slot1/state", true},
		{"pg_dynshmem/mmap.1", true},
		{"pg_notify/0000", true},
		{"pg_serial/0000", true},
		{"pg_snapshots/00000003-00000002-1", true},
		{"pg_subtrans/0000", true},
		{"base/pg_subtrans/0000", false}, // contents rule only at the top
		{"pg_stat/pgstat.stat", false},
		{"pg_xact/0000", false},
	}
	for _, tt := range tests {
		if got := IsExcluded(tt.path); got != tt.want {
			t.Errorf("IsExcluded(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"base/5/16384", true},
		{"tst_standby_dir/standby_file3 with 'quotes'", true},
		{`tst_dir/with "double" quotes`, true},
		{"pg_wal/archive_status/x.done", true},
		{"", false},
		{"/etc/passwd", false},
		{"../outside", false},
		{"base/../../outside", false},
		{"base/..", false},
		{"./base", false},
		{"base//5", false},
		{"base/", false},
		{"base/5\x00/1", false},
	}
	for _, tt := range tests {
		err := CheckPath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}
