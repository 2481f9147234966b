package filemap

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const (
	mib = int64(1) << 20
	seg = 16 * mib
)

// trimCase is one path of a trimming map: what each side has and what
// Decide must make of it.
type trimCase struct {
	name     string
	src, tgt *File
	want     Action
	reason   SkipReason
	bytes    int64
}

// decideTrim decides a map holding every case's files plus extra source
// files, and checks each case's path.
func decideTrim(t *testing.T, trim Trim, extraSrc []File, tests []trimCase) {
	t.Helper()
	m := New(Config{Major: 15, CatVersion: 202209061, Trim: &trim})
	for _, f := range extraSrc {
		if err := m.AddSource(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		if tt.src != nil {
			if err := m.AddSource(*tt.src); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		if tt.tgt != nil {
			if err := m.AddTarget(*tt.tgt); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
	}
	if _, err := m.Decide(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.src != nil {
				path = tt.src.Path
			} else {
				path = tt.tgt.Path
			}
			e := m.Lookup(path)
			if e.Action != tt.want || e.Skipped != tt.reason || e.SkippedBytes != tt.bytes {
				t.Fatalf("%s: %s skipped %s (%d bytes), want %s skipped %s (%d bytes)",
					path, e.Action, e.Skipped, e.SkippedBytes, tt.want, tt.reason, tt.bytes)
			}
			if e.Skipped != SkipNone && e.Blocks.Len() != 0 {
				t.Fatalf("%s: skipped but %d blocks left to fetch", path, e.Blocks.Len())
			}
		})
	}
}

func TestTrimWALBeforeRedo(t *testing.T) {
	wal := func(name string) *File { return reg("pg_wal/"+name, seg) }
	// Redo at 0/3000028: segment 3 of timeline 1 holds it.
	decideTrim(t, Trim{Redo: 0x3000028, WALSegSize: uint32(seg)}, nil, []trimCase{
		{name: "long before redo", src: wal("000000010000000000000001"), tgt: wal("000000010000000000000001"), want: ActionNone, reason: SkipWALBeforeRedo, bytes: seg},
		{name: "ends exactly where the redo segment starts", src: wal("000000010000000000000002"), tgt: wal("000000010000000000000002"), want: ActionNone, reason: SkipWALBeforeRedo, bytes: seg},
		{name: "holds the redo point", src: wal("000000010000000000000003"), tgt: wal("000000010000000000000003"), want: ActionCopy},
		{name: "after the redo point", src: wal("000000010000000000000004"), tgt: wal("000000010000000000000004"), want: ActionCopy},
		{name: "source only before redo is not created", src: wal("000000010000000000000000"), want: ActionNone, reason: SkipWALBeforeRedo, bytes: seg},
		{name: "other timeline before redo", src: wal("000000020000000000000002"), want: ActionNone, reason: SkipWALBeforeRedo, bytes: seg},
		{name: "other timeline after redo", src: wal("000000020000000000000005"), want: ActionCopy},
		{name: "target only before redo is removed as before", tgt: wal("00000001000000000000000F"), want: ActionRemove},
		{name: "partial before redo", src: wal("000000010000000000000001.partial"), want: ActionCopy},
		{name: "history file", src: reg("pg_wal/00000002.history", 41), want: ActionCopy},
		{name: "backup history file", src: reg("pg_wal/000000010000000000000001.00000028.backup", 300), want: ActionCopy},
		{name: "archive status", src: reg("pg_wal/archive_status/000000010000000000000001.done", 0), tgt: reg("pg_wal/archive_status/000000010000000000000001.done", 0), want: ActionCopy},
		{name: "lowercase name is not a segment", src: wal("00000001000000000000000a"), want: ActionCopy},
		{name: "segment part out of range", src: wal("000000010000000000000100"), want: ActionCopy},
		{name: "timeline 0 is not a segment", src: wal("000000000000000000000001"), want: ActionCopy},
		{name: "not directly in pg_wal", src: reg("pg_wal/x/000000010000000000000001", seg), want: ActionCopy},
		{name: "segment name outside pg_wal", src: reg("000000010000000000000001", seg), want: ActionCopy},
	})
}

func TestTrimWALSegmentArithmetic(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		redo    uint64
		file    string
		skipped bool
	}{
		{"16 MiB: redo one byte into the next segment", seg, 0x3000001, "000000010000000000000002", true},
		{"16 MiB: redo on the segment's last byte", seg, 0x2FFFFFF, "000000010000000000000002", false},
		{"16 MiB: redo exactly at the segment end", seg, 0x3000000, "000000010000000000000002", true},
		{"16 MiB: second log id", seg, 0x1_00000028, "0000000100000000000000FF", true},
		{"16 MiB: second log id holds redo", seg, 0x1_00000028, "000000010000000100000000", false},
		{"1 MiB segments", mib, 0x300028, "000000010000000000000002", true},
		{"1 MiB segments: holds redo", mib, 0x300028, "000000010000000000000003", false},
		{"64 MiB segments: low part counts 64 per log id", 64 * mib, 0x1_0C000028, "000000010000000100000002", true},
		{"64 MiB segments: holds redo", 64 * mib, 0x1_0C000028, "000000010000000100000003", false},
		{"1 GiB segments", 1024 * mib, 0x1_00000028, "000000010000000000000003", true},
		{"1 GiB segments: holds redo", 1024 * mib, 0x1_00000028, "000000010000000100000000", false},
		{"1 GiB segments: low part out of range", 1024 * mib, 0x5_00000028, "000000010000000000000004", false},
		{"1 GiB segments: log id 1", 1024 * mib, 0x5_00000028, "000000010000000100000000", true},
		{"last possible segment", seg, ^uint64(0), "00000001FFFFFFFF000000FF", false},
		{"redo zero turns the rule off", seg, 0, "000000010000000000000000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := trimCase{name: tt.file, src: reg("pg_wal/"+tt.file, tt.segSize), want: ActionCopy}
			if tt.skipped {
				want.want, want.reason, want.bytes = ActionNone, SkipWALBeforeRedo, tt.segSize
			}
			decideTrim(t, Trim{Redo: tt.redo, WALSegSize: uint32(tt.segSize)}, nil, []trimCase{want})
		})
	}
}

func TestTrimWALRecycled(t *testing.T) {
	wal := func(name string) *File { return reg("pg_wal/"+name, seg) }
	// The source's position 0/5000028 lies in segment 5; the last common
	// checkpoint's redo 0/2000028 in segment 2.
	decideTrim(t, Trim{Redo: 0x2000028, SourceWAL: 0x5000028, WALSegSize: uint32(seg)}, nil, []trimCase{
		{name: "before the position", src: wal("000000010000000000000004"), tgt: wal("000000010000000000000004"), want: ActionCopy},
		{name: "holds the position", src: wal("000000010000000000000005"), tgt: wal("000000010000000000000005"), want: ActionCopy},
		{name: "holds the position, source only", src: wal("000000020000000000000005"), want: ActionCopy},
		{name: "next segment, source only, is not created", src: wal("000000010000000000000006"), want: ActionNone, reason: SkipWALRecycled, bytes: seg},
		{name: "next segment on both: the target's copy goes", src: wal("000000020000000000000006"), tgt: wal("000000020000000000000006"), want: ActionRemove, reason: SkipWALRecycled, bytes: seg},
		{name: "far ahead, other timeline", src: wal("000000030000000000000040"), want: ActionNone, reason: SkipWALRecycled, bytes: seg},
		{name: "next log id", src: wal("000000010000000100000000"), want: ActionNone, reason: SkipWALRecycled, bytes: seg},
		{name: "older timeline before the position", src: wal("000000010000000000000003"), want: ActionCopy},
		{name: "before redo keeps its own reason", src: wal("000000010000000000000001"), want: ActionNone, reason: SkipWALBeforeRedo, bytes: seg},
		{name: "target only beyond is removed as before", tgt: wal("000000010000000000000009"), want: ActionRemove},
		{name: "partial beyond the position", src: wal("000000010000000000000007.partial"), want: ActionCopy},
		{name: "history file", src: reg("pg_wal/00000003.history", 80), want: ActionCopy},
		{name: "backup history file beyond", src: reg("pg_wal/000000010000000000000007.00000028.backup", 300), want: ActionCopy},
		{name: "archive status beyond", src: reg("pg_wal/archive_status/000000010000000000000007.ready", 0), want: ActionCopy},
		{name: "temporary WAL file is no segment", src: reg("pg_wal/xlogtemp.99", seg), want: ActionCopy},
		{name: "segment name outside pg_wal", src: reg("000000010000000000000009", seg), want: ActionCopy},
	})
}

func TestTrimWALRecycledBoundaries(t *testing.T) {
	tests := []struct {
		name     string
		segSize  int64
		position uint64
		file     string
		skipped  bool
	}{
		{"position at a segment's first byte: that segment is fetched", seg, 0x6000000, "000000010000000000000006", false},
		{"position at a segment's first byte: the next is not", seg, 0x6000000, "000000010000000000000007", true},
		{"position at a segment's first byte: the one before is fetched", seg, 0x6000000, "000000010000000000000005", false},
		{"position on a segment's last byte", seg, 0x5FFFFFF, "000000010000000000000006", true},
		{"position on a segment's last byte: its own", seg, 0x5FFFFFF, "000000010000000000000005", false},
		{"position unknown turns the rule off", seg, 0, "000000010000000000000007", false},
		{"1 MiB segments", mib, 0x300028, "000000010000000000000004", true},
		{"1 MiB segments: holds the position", mib, 0x300028, "000000010000000000000003", false},
		{"1 GiB segments across log ids", 1024 * mib, 0x1_C0000028, "000000010000000200000000", true},
		{"1 GiB segments: holds the position", 1024 * mib, 0x1_C0000028, "000000010000000100000003", false},
		{"last possible position", seg, ^uint64(0), "00000001FFFFFFFF000000FF", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := trimCase{name: tt.file, src: reg("pg_wal/"+tt.file, tt.segSize), want: ActionCopy}
			if tt.skipped {
				want.want, want.reason, want.bytes = ActionNone, SkipWALRecycled, tt.segSize
			}
			decideTrim(t, Trim{SourceWAL: tt.position, WALSegSize: uint32(tt.segSize)}, nil, []trimCase{want})
		})
	}
}

func TestTrimUnlogged(t *testing.T) {
	const blk = 8192
	inits := []File{
		*reg("base/5/16400_init", 0),
		*reg("pg_tblspc/16385/PG_15_202209061/5/16500_init", 0),
		*reg("base/5/16600_init.1", blk), // an init fork segment marks it too
	}
	tblspc := "pg_tblspc/16385/PG_15_202209061/5/"
	decideTrim(t, Trim{Unlogged: true}, inits, []trimCase{
		{name: "main fork source only", src: reg("base/5/16384", 10*blk), want: ActionNone, reason: SkipUnlogged, bytes: 10 * blk},
		{name: "main fork grew", src: reg("base/5/16400", 10*blk), tgt: reg("base/5/16400", 4*blk), want: ActionNone, reason: SkipUnlogged, bytes: 6 * blk},
		{name: "main fork same size fetches nothing anyway", src: reg("base/5/16384.1", 4*blk), tgt: reg("base/5/16384.1", 4*blk), want: ActionNone},
		{name: "main fork shrank is truncated as before", src: reg("base/5/16384.2", 4*blk), tgt: reg("base/5/16384.2", 8*blk), want: ActionTruncate},
		{name: "fsm fork", src: reg("base/5/16384_fsm", 3*blk), tgt: reg("base/5/16384_fsm", 3*blk), want: ActionNone, reason: SkipUnlogged, bytes: 3 * blk},
		{name: "vm fork", src: reg("base/5/16384_vm", blk), want: ActionNone, reason: SkipUnlogged, bytes: blk},
		{name: "fork segment", src: reg("base/5/16400_fsm.1", blk), want: ActionNone, reason: SkipUnlogged, bytes: blk},
		{name: "leading zeros name the same relation", src: reg("base/5/016384", blk), want: ActionNone, reason: SkipUnlogged, bytes: blk},
		{name: "empty main fork is not created", src: reg("base/5/16600.2", 0), want: ActionNone, reason: SkipUnlogged},
		{name: "marked by an init fork segment", src: reg("base/5/16600", blk), want: ActionNone, reason: SkipUnlogged, bytes: blk},
		{name: "in a tablespace", src: reg(tblspc+"16500", 2*blk), want: ActionNone, reason: SkipUnlogged, bytes: 2 * blk},
		{name: "init fork itself is copied", src: reg("base/5/16384_init", 0), tgt: reg("base/5/16384_init", 0), want: ActionCopy},
		{name: "same number in another database", src: reg("base/6/16384", blk), want: ActionCopy},
		{name: "same number in another tablespace", src: reg("pg_tblspc/16386/PG_15_202209061/5/16500", blk), want: ActionCopy},
		{name: "init fork on the target only: source decides", src: reg("base/5/16700", 2*blk), tgt: reg("base/5/16700", blk), want: ActionCopyTail},
		{name: "target-only init fork is removed", tgt: reg("base/5/16700_init", 0), want: ActionRemove},
		{name: "target-only main of a source-unlogged relation is removed", tgt: reg("base/5/16400.1", blk), want: ActionRemove},
		{name: "unknown fork is not a relation file", src: reg("base/5/16384_xyz", blk), want: ActionCopy},
		{name: "global has no unlogged relations", src: reg("global/16384", blk), want: ActionCopy},
		{name: "non-digit database directory", src: reg("base/pgsql_x/16384", blk), want: ActionCopy},
		{name: "temporary relation of the same number", src: reg("base/5/t3_16384", blk), want: ActionCopy},
	})
}

func TestTrimTemp(t *testing.T) {
	const blk = 8192
	tblspc := "pg_tblspc/16385/PG_15_202209061/5/"
	decideTrim(t, Trim{Temp: true}, nil, []trimCase{
		{name: "temporary relation on both", src: reg("base/5/t3_16384", 2*blk), tgt: reg("base/5/t3_16384", 2*blk), want: ActionNone, reason: SkipTemp, bytes: 2 * blk},
		{name: "temporary relation source only", src: reg("base/5/t12_16390", blk), want: ActionNone, reason: SkipTemp, bytes: blk},
		{name: "fsm fork", src: reg("base/5/t3_16384_fsm", 3*blk), want: ActionNone, reason: SkipTemp, bytes: 3 * blk},
		{name: "init fork", src: reg("base/5/t3_16384_init", blk), want: ActionNone, reason: SkipTemp, bytes: blk},
		{name: "segment", src: reg("base/5/t3_16384.1", blk), want: ActionNone, reason: SkipTemp, bytes: blk},
		{name: "fork segment", src: reg("base/5/t3_16384_vm.2", blk), want: ActionNone, reason: SkipTemp, bytes: blk},
		{name: "in a tablespace", src: reg(tblspc+"t3_16384", blk), want: ActionNone, reason: SkipTemp, bytes: blk},
		{name: "temporary WAL file", src: reg("pg_wal/xlogtemp.4711", seg), want: ActionNone, reason: SkipTemp, bytes: seg},
		{name: "empty temporary file is not created", src: reg("base/5/t3_16399", 0), want: ActionNone, reason: SkipTemp},
		{name: "target only is removed", tgt: reg("base/5/t4_16384", blk), want: ActionRemove},
		{name: "no backend number", src: reg("base/5/t_16384", blk), want: ActionCopy},
		{name: "no relation number", src: reg("base/5/t3_", blk), want: ActionCopy},
		{name: "main is not a fork suffix", src: reg("base/5/t3_16384_main", blk), want: ActionCopy},
		{name: "empty segment number", src: reg("base/5/t3_16384.", blk), want: ActionCopy},
		{name: "trailing junk", src: reg("base/5/t3_16384x", blk), want: ActionCopy},
		{name: "outside a database directory", src: reg("t3_16384", blk), want: ActionCopy},
		{name: "in global", src: reg("global/t3_16384", blk), want: ActionCopy},
		{name: "xlogtemp outside pg_wal", src: reg("base/5/xlogtemp.1", blk), want: ActionCopy},
		{name: "xlogtemp below pg_wal", src: reg("pg_wal/archive_status/xlogtemp.1", blk), want: ActionCopy},
		{name: "statistics file", src: reg("pg_stat/pgstat.stat", 30000), tgt: reg("pg_stat/pgstat.stat", 20000), want: ActionNone, reason: SkipTemp, bytes: 30000},
		{name: "other file in pg_stat", src: reg("pg_stat/other.stat", 10), want: ActionCopy},
		{name: "old backup label", src: reg("backup_label.old", 200), want: ActionNone, reason: SkipTemp, bytes: 200},
		{name: "old backup label below the top", src: reg("tst_dir/backup_label.old", 200), want: ActionCopy},
		{name: "the rule is off for ordinary relations", src: reg("base/5/16384", 2*blk), want: ActionCopy},
	})
}

func TestTrimStatsFileBefore15(t *testing.T) {
	// Before 15 the statistics files had other names and rules: left alone.
	m := New(Config{Major: 14, CatVersion: 202107181, Trim: &Trim{Temp: true}})
	if err := m.AddSource(*reg("pg_stat/pgstat.stat", 100)); err != nil {
		t.Fatal(err)
	}
	entries, err := m.Decide()
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[0]; e.Action != ActionCopy || e.Skipped != SkipNone {
		t.Fatalf("%s: %s skipped %s, want COPY", e.Path, e.Action, e.Skipped)
	}
}

func TestTrimOff(t *testing.T) {
	// Without Trim the map is pg_rewind's: everything above is fetched.
	m := newTestMap(nil)
	for _, f := range []File{*reg("pg_wal/000000010000000000000001", seg), *reg("base/5/16384_init", 0), *reg("base/5/16384", 8192), *reg("base/5/t3_1", 8192)} {
		if err := m.AddSource(f); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := m.Decide()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action != ActionCopy || e.Skipped != SkipNone {
			t.Errorf("%s: %s skipped %s, want COPY", e.Path, e.Action, e.Skipped)
		}
	}
	if s := m.Summary(); len(s.Skipped) != 0 {
		t.Errorf("summary skipped %v", s.Skipped)
	}
}

func TestTrimBlocksSummaryAndDebug(t *testing.T) {
	var debug []string
	m := newTestMap(&debug)
	m.cfg.Trim = &Trim{Redo: 0x3000028, WALSegSize: uint32(seg), Unlogged: true, Temp: true}
	for _, f := range []File{
		*reg("base/5/16384_init", 0), *reg("base/5/16384", 4*8192), *reg("base/5/16390", 4*8192),
		*reg("pg_wal/000000010000000000000002", seg), *reg("pg_wal/000000010000000000000003", seg),
		*reg("base/5/t3_16400", 8192),
	} {
		if err := m.AddSource(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []File{*reg("base/5/16384", 4*8192), *reg("base/5/16390", 4*8192), *reg("pg_wal/000000010000000000000002", seg)} {
		if err := m.AddTarget(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []uint32{1, 2} {
		for _, rel := range []uint32{16384, 16390} {
			if err := m.AddBlock(RelFileNode{Spc: 1663, DB: 5, Rel: rel}, ForkMain, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Deciding twice gives the same answer: the skipped entry's blocks
	// are set aside, not lost.
	for round := 0; round < 2; round++ {
		debug = nil
		if _, err := m.Decide(); err != nil {
			t.Fatal(err)
		}
		if e := m.Lookup("base/5/16384"); e.Action != ActionNone || e.Blocks.Len() != 0 || e.SkippedBytes != 2*8192 {
			t.Fatalf("round %d: unlogged main %s, %d blocks, %d skipped bytes", round, e.Action, e.Blocks.Len(), e.SkippedBytes)
		}
		if e := m.Lookup("base/5/16390"); e.Blocks.Len() != 2 || e.Skipped != SkipNone {
			t.Fatalf("round %d: logged relation lost its blocks", round)
		}
	}
	s := m.Summary()
	want := map[SkipReason]ActionTotal{
		SkipWALBeforeRedo: {Files: 1, Bytes: seg},
		SkipUnlogged:      {Files: 1, Bytes: 2 * 8192},
		SkipTemp:          {Files: 1, Bytes: 8192},
	}
	for r, w := range want {
		if s.Skipped[r] != w {
			t.Errorf("skipped %s = %+v, want %+v", r, s.Skipped[r], w)
		}
	}
	if got := s.SkippedTotal(); got != (ActionTotal{Files: 3, Bytes: seg + 3*8192}) {
		t.Errorf("skipped total = %+v", got)
	}
	if got, want := s.SkipLine(), "skipped 3 files, 16 MB recovery never reads"; got != want {
		t.Errorf("skip line = %q, want %q", got, want)
	}
	// Fetched: segment 3 whole, the logged relation's two blocks, the
	// unlogged init fork (empty).
	if want := seg + 2*8192; s.FetchBytes != want {
		t.Errorf("FetchBytes = %d, want %d", s.FetchBytes, want)
	}
	b, err := json.Marshal(s.Skipped)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"wal_before_redo":{"files":1,"bytes":16777216}`) {
		t.Errorf("skipped json = %s", b)
	}
	var dump bytes.Buffer
	if err := m.WriteDebug(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump.String(), "base/5/16384 ") || strings.Contains(dump.String(), "000000010000000000000002") {
		t.Errorf("skipped entries in the file map dump:\n%s", dump.String())
	}
	wantDebug := []string{
		`not fetching "base/5/16384" (unlogged): recovery never reads it`,
		`not fetching "base/5/t3_16400" (temp): recovery never reads it`,
		`not fetching "pg_wal/000000010000000000000002" (wal_before_redo): recovery never reads it`,
	}
	got := strings.Join(debug, "\n")
	for _, w := range wantDebug {
		if !strings.Contains(got, w) {
			t.Errorf("debug lacks %q:\n%s", w, got)
		}
	}
}

func TestSkipReasonText(t *testing.T) {
	for _, r := range SkipReasons {
		b, err := r.MarshalText()
		if err != nil || string(b) != r.String() {
			t.Fatalf("%d: %s %v", int(r), b, err)
		}
	}
	if _, err := SkipReason(42).MarshalText(); err == nil || SkipReason(42).String() != "unknown" {
		t.Fatal("unknown reason accepted")
	}
}
