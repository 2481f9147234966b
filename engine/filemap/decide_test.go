package filemap

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func reg(path string, size int64) *File { return &File{Path: path, Type: TypeRegular, Size: size} }
func dir(path string) *File             { return &File{Path: path, Type: TypeDirectory} }
func link(path, to string) *File        { return &File{Path: path, Type: TypeSymlink, LinkTarget: to} }

func newTestMap(debug *[]string) *Map {
	cfg := Config{Major: 15, CatVersion: 202209061}
	if debug != nil {
		cfg.Debugf = func(f string, a ...any) { *debug = append(*debug, fmt.Sprintf(f, a...)) }
	}
	return New(cfg)
}

func TestDecideRules(t *testing.T) {
	tests := []struct {
		name      string
		src, tgt  *File
		keepWAL   bool
		want      Action
		tailFrom  int64
		truncTo   int64
		wantError string
	}{
		{name: "pg_control is left for the end", src: reg("global/pg_control", 8192), tgt: reg("global/pg_control", 8192), want: ActionNone},
		{name: ".DS_Store on the source only", src: reg("tst_standby_dir/.DS_Store", 10), want: ActionNone},
		{name: ".DS_Store on the target only", tgt: reg("tst_dir/.DS_Store", 10), want: ActionNone},
		{name: "excluded on both", src: reg("postmaster.pid", 10), tgt: reg("postmaster.pid", 10), want: ActionRemove},
		{name: "excluded on the source only", src: reg("backup_label", 10), want: ActionNone},
		{name: "excluded on the target only", tgt: reg("pg_replslot/s1/state", 10), want: ActionRemove},
		{name: "excluded dir contents kept dir", src: dir("pg_replslot"), tgt: dir("pg_replslot"), want: ActionNone},
		{name: "excluded temp dir", src: dir("base/pgsql_tmp"), tgt: dir("base/pgsql_tmp"), want: ActionRemove},
		{name: "source-only directory", src: dir("tst_standby_dir"), want: ActionCreate},
		{name: "source-only tablespace link", src: link("pg_tblspc/16385", "/ts"), want: ActionCreate},
		{name: "source-only regular", src: reg("tst_standby_dir/standby_file3 with 'quotes'", 5), want: ActionCopy},
		{name: "source-only relation", src: reg("base/5/16384", 8192), want: ActionCopy},
		{name: "target-only regular", tgt: reg("tst_primary_dir/primary_file1", 5), want: ActionRemove},
		{name: "target-only directory", tgt: dir("tst_primary_dir"), want: ActionRemove},
		{name: "target-only WAL", tgt: reg("pg_wal/000000010000000000000003", 16<<20), want: ActionRemove},
		{name: "target-only WAL kept", tgt: reg("pg_wal/000000010000000000000003", 16<<20), keepWAL: true, want: ActionNone},
		{name: "different types", src: dir("tst_both"), tgt: reg("tst_both", 1), wantError: `file "tst_both" is of different type in source and target`},
		{name: "pg_wal symlink on the target only", src: dir("pg_wal"), tgt: link("pg_wal", "/elsewhere"), want: ActionNone},
		{name: "pg_wal symlink on the source only", src: link("pg_wal", "/elsewhere"), tgt: dir("pg_wal"), want: ActionNone},
		{name: "PG_VERSION", src: reg("base/5/PG_VERSION", 3), tgt: reg("base/5/PG_VERSION", 4), want: ActionNone},
		{name: "directory on both", src: dir("base/5"), tgt: dir("base/5"), want: ActionNone},
		{name: "tablespace link on both", src: link("pg_tblspc/16385", "/a"), tgt: link("pg_tblspc/16385", "/b"), want: ActionNone},
		{name: "config file", src: reg("postgresql.conf", 100), tgt: reg("postgresql.conf", 100), want: ActionCopy},
		{name: "pg_xact", src: reg("pg_xact/0000", 8192), tgt: reg("pg_xact/0000", 8192), want: ActionCopy},
		{name: "fsm fork", src: reg("base/5/16384_fsm", 24576), tgt: reg("base/5/16384_fsm", 24576), want: ActionCopy},
		{name: "vm fork", src: reg("base/5/16384_vm", 8192), tgt: reg("base/5/16384_vm", 8192), want: ActionCopy},
		{name: "init fork", src: reg("base/5/16384_init", 0), tgt: reg("base/5/16384_init", 0), want: ActionCopy},
		{name: "temp relation", src: reg("base/5/t3_1234", 8192), tgt: reg("base/5/t3_1234", 8192), want: ActionCopy},
		{name: "leading zero is not a relation", src: reg("base/5/016384", 8192), tgt: reg("base/5/016384", 8192), want: ActionCopy},
		{name: "WAL on both", src: reg("pg_wal/000000010000000000000001", 16<<20), tgt: reg("pg_wal/000000010000000000000001", 16<<20), want: ActionCopy},
		{name: "relation grew on the source", src: reg("base/5/16384", 81920), tgt: reg("base/5/16384", 8192), want: ActionCopyTail, tailFrom: 8192},
		{name: "relation segment shrank on the source", src: reg("base/5/16384.1", 8192), tgt: reg("base/5/16384.1", 16384), want: ActionTruncate, truncTo: 8192},
		{name: "relation in a tablespace same size", src: reg("pg_tblspc/16385/PG_15_202209061/5/16386", 8192), tgt: reg("pg_tblspc/16385/PG_15_202209061/5/16386", 8192), want: ActionNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var debug []string
			m := newTestMap(&debug)
			path := ""
			if tt.src != nil {
				path = tt.src.Path
				if err := m.AddSource(*tt.src); err != nil {
					t.Fatal(err)
				}
			}
			if tt.tgt != nil {
				path = tt.tgt.Path
				if err := m.AddTarget(*tt.tgt); err != nil {
					t.Fatal(err)
				}
			}
			if tt.keepWAL {
				m.KeepWAL(path)
			}
			entries, err := m.Decide()
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("Decide() error = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("got %d entries", len(entries))
			}
			e := entries[0]
			if e.Action != tt.want || e.TailFrom != tt.tailFrom || e.TruncateTo != tt.truncTo {
				t.Fatalf("%s: action %s tail %d trunc %d, want %s tail %d trunc %d",
					e.Path, e.Action, e.TailFrom, e.TruncateTo, tt.want, tt.tailFrom, tt.truncTo)
			}
			if tt.keepWAL {
				want := fmt.Sprintf("Not removing file \"%s\" because it is required for recovery", path)
				if !reflect.DeepEqual(debug, []string{want}) {
					t.Fatalf("debug = %q, want %q", debug, want)
				}
			}
		})
	}
}

func TestListingErrors(t *testing.T) {
	tests := []struct {
		name    string
		add     func(m *Map) error
		wantErr string
	}{
		{"duplicate source", func(m *Map) error {
			_ = m.AddSource(*reg("a", 1))
			return m.AddSource(*reg("a", 1))
		}, `duplicate source file "a"`},
		{"duplicate target", func(m *Map) error {
			_ = m.AddTarget(*reg("a", 1))
			return m.AddTarget(*dir("a"))
		}, `duplicate target file "a"`},
		{"relation file that is a directory", func(m *Map) error {
			return m.AddSource(*dir("base/5/16384"))
		}, `data file "base/5/16384" in source is not a regular file`},
		{"absolute source path", func(m *Map) error {
			return m.AddSource(*reg("/etc/passwd", 1))
		}, `"/etc/passwd"`},
		{"parent reference", func(m *Map) error {
			return m.AddSource(*reg("base/../../etc/cron.d/x", 1))
		}, `"base/../../etc/cron.d/x"`},
		{"NUL byte", func(m *Map) error {
			return m.AddSource(*reg("a\x00b", 1))
		}, `unsafe path`},
		{"block in a directory", func(m *Map) error {
			_ = m.AddTarget(*link("global/1262", "/x"))
			_ = m.AddSource(*reg("global/1262", 8192))
			return m.AddBlock(RelFileNode{1664, 0, 1262}, ForkMain, 0)
		}, `unexpected page modification for non-regular file "global/1262"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.add(newTestMap(nil))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestAddBlock(t *testing.T) {
	m := New(Config{Major: 15, CatVersion: 202209061, RelSegSize: 4})
	for _, f := range []File{
		*reg("base/5/100", 4*8192), *reg("base/5/100.1", 4*8192), *reg("base/5/100.2", 2*8192),
		*reg("base/5/200", 3*8192), *reg("base/5/300", 8192), *reg("base/5/100_fsm", 8192),
	} {
		if err := m.AddSource(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []File{
		*reg("base/5/100", 4*8192), *reg("base/5/100.1", 4*8192), *reg("base/5/100.2", 4*8192),
		*reg("base/5/200", 1*8192), *reg("base/5/400", 8192), *reg("base/5/100_fsm", 8192),
	} {
		if err := m.AddTarget(f); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(r uint32) RelFileNode { return RelFileNode{1663, 5, r} }
	for _, b := range []struct {
		rel  RelFileNode
		fork ForkNumber
		blk  uint32
	}{
		{rel(100), ForkMain, 3},     // base/5/100 block 3
		{rel(100), ForkMain, 0},     // base/5/100 block 0
		{rel(100), ForkMain, 5},     // base/5/100.1 block 1
		{rel(100), ForkMain, 9},     // base/5/100.2 block 1: inside both
		{rel(100), ForkMain, 10},    // base/5/100.2 block 2: beyond the source's end
		{rel(200), ForkMain, 2},     // beyond the target's end
		{rel(200), ForkMain, 0},     // inside both
		{rel(300), ForkMain, 0},     // source only
		{rel(400), ForkMain, 0},     // target only
		{rel(500), ForkMain, 0},     // neither
		{rel(100), ForkFSM, 0},      // other forks are copied whole
		{rel(100), ForkMain, 1 + 4}, // duplicate of block 5
	} {
		if err := m.AddBlock(b.rel, b.fork, b.blk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Decide(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]uint32{
		"base/5/100": {0, 3}, "base/5/100.1": {1}, "base/5/100.2": {1}, "base/5/200": {0},
	}
	for path, e := range m.entries {
		got := e.Blocks.Blocks()
		if !reflect.DeepEqual(got, append([]uint32{}, want[path]...)) {
			t.Errorf("%s blocks = %v, want %v", path, got, want[path])
		}
	}
	var buf bytes.Buffer
	if err := m.WriteDebug(&buf); err != nil {
		t.Fatal(err)
	}
	wantDump := `base/5/100_fsm (COPY)
base/5/300 (COPY)
base/5/200 (COPY_TAIL)
block 0
base/5/100 (NONE)
block 0
block 3
base/5/100.1 (NONE)
block 1
base/5/100.2 (TRUNCATE)
block 1
base/5/400 (REMOVE)
`
	if buf.String() != wantDump {
		t.Fatalf("debug dump:\n%s\nwant:\n%s", buf.String(), wantDump)
	}
	s := m.Summary()
	// COPY_TAIL 2 blocks + 1 changed block; COPY 1 block; NONE 3 blocks; TRUNCATE 1 block; FSM copy 1 block.
	if want := int64((3 + 1 + 3 + 1 + 1) * 8192); s.FetchBytes != want {
		t.Errorf("FetchBytes = %d, want %d", s.FetchBytes, want)
	}
	if want := int64((4 + 4 + 2 + 3 + 1 + 1) * 8192); s.TotalSourceBytes != want {
		t.Errorf("TotalSourceBytes = %d, want %d", s.TotalSourceBytes, want)
	}
	if got := s.Actions[ActionNone]; got != (ActionTotal{Files: 2, Bytes: 3 * 8192}) {
		t.Errorf("NONE totals = %+v", got)
	}
	if got := s.Actions[ActionCopy]; got != (ActionTotal{Files: 2, Bytes: 2 * 8192}) {
		t.Errorf("COPY totals = %+v", got)
	}
	if got := s.Actions[ActionRemove]; got != (ActionTotal{Files: 1}) {
		t.Errorf("REMOVE totals = %+v", got)
	}
}

func TestSortOrder(t *testing.T) {
	m := newTestMap(nil)
	for _, f := range []*File{
		dir("tst_standby_dir"), reg("tst_standby_dir/b", 1), dir("tst_standby_dir/sub"), reg("tst_standby_dir/sub/c", 1),
		reg("postgresql.conf", 10), reg("base/5/16384", 16384), reg("base/5/16385", 8192), dir("base"), dir("base/5"),
	} {
		if err := m.AddSource(*f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []*File{
		dir("tst_primary_dir"), reg("tst_primary_dir/a", 1), dir("tst_primary_dir/sub"), reg("tst_primary_dir/sub/z", 1),
		reg("postgresql.conf", 10), reg("base/5/16384", 8192), reg("base/5/16385", 16384), dir("base"), dir("base/5"),
	} {
		if err := m.AddTarget(*f); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := m.Decide()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path+" "+e.Action.String())
	}
	want := []string{
		"tst_standby_dir CREATE",
		"tst_standby_dir/sub CREATE",
		"postgresql.conf COPY",
		"tst_standby_dir/b COPY",
		"tst_standby_dir/sub/c COPY",
		"base/5/16384 COPY_TAIL",
		"base NONE",
		"base/5 NONE",
		"base/5/16385 TRUNCATE",
		"tst_primary_dir/sub/z REMOVE",
		"tst_primary_dir/sub REMOVE",
		"tst_primary_dir/a REMOVE",
		"tst_primary_dir REMOVE",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if line := m.Summary().ProgressLine(); line != "need to copy 0 MB (total source directory size is 0 MB)" {
		t.Fatalf("progress line = %q", line)
	}
}

func TestActionText(t *testing.T) {
	for a := ActionUndecided; a <= ActionRemove; a++ {
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Fatalf("round trip of %s gave %s, %v", a, back, err)
		}
	}
	if ActionCopyTail.String() != "COPY_TAIL" || Action(99).String() != "unknown" {
		t.Fatal("action names differ from pg_rewind's")
	}
}
