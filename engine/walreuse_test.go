package engine

import (
	"slices"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

// TestPlanWAL: segments both sides have are overwritten in place, the
// target's surplus segments become the files of the source's new ones,
// what is left is removed early, and nothing else is touched.
func TestPlanWAL(t *testing.T) {
	const seg = 16 << 20
	reg := func(size int64) filemap.Side {
		return filemap.Side{Exists: true, Type: filemap.TypeRegular, Size: size}
	}
	none := filemap.Side{}
	entry := func(p string, a filemap.Action, src, tgt filemap.Side) *filemap.FileEntry {
		return &filemap.FileEntry{Path: p, Action: a, Source: src, Target: tgt}
	}
	common := entry("pg_wal/00000001000000000000000D", filemap.ActionCopy, reg(seg), reg(seg))
	new1 := entry("pg_wal/00000002000000000000000D", filemap.ActionCopy, reg(seg), none)
	new2 := entry("pg_wal/00000002000000000000000E", filemap.ActionCopy, reg(seg), none)
	new3 := entry("pg_wal/00000002000000000000000F", filemap.ActionCopy, reg(seg), none)
	old1 := entry("pg_wal/00000001000000000000000E", filemap.ActionRemove, none, reg(seg))
	old2 := entry("pg_wal/00000001000000000000000F", filemap.ActionRemove, none, reg(seg))
	history := entry("pg_wal/00000002.history", filemap.ActionCopy, reg(42), none)
	partial := entry("pg_wal/00000001000000000000000C.partial", filemap.ActionRemove, none, reg(seg))
	short := entry("pg_wal/000000010000000000000010", filemap.ActionRemove, none, reg(seg/2))
	deeper := entry("pg_wal/archive_status/00000001000000000000000E.done", filemap.ActionRemove, none, reg(0))
	relation := entry("base/5/16384", filemap.ActionCopy, reg(8192), reg(8192))

	t.Run("more new segments than spare ones", func(t *testing.T) {
		r := &run{tgtCF: &pgcontrol.ControlFile{WalSegSize: seg}}
		p := r.planWAL([]*filemap.FileEntry{common, new1, new2, new3, old1, old2, history, partial, short, deeper, relation})
		if got, want := len(p.renames), 2; got != want {
			t.Fatalf("renames = %v, want %d", p.renames, want)
		}
		for _, rn := range p.renames {
			if !slices.Contains([]string{old1.Path, old2.Path}, rn.from) || !slices.Contains([]string{new1.Path, new2.Path}, rn.to) {
				t.Errorf("rename %s -> %s: want a surplus segment to a new one, in entry order", rn.from, rn.to)
			}
		}
		for e, want := range map[*filemap.FileEntry]bool{common: true, new1: true, new2: true, new3: false, history: false, relation: false} {
			if p.inPlace[e] != want {
				t.Errorf("inPlace[%s] = %v, want %v", e.Path, p.inPlace[e], want)
			}
		}
		for e, want := range map[*filemap.FileEntry]bool{old1: true, old2: true, partial: false, short: false, deeper: false} {
			if p.handled[e] != want {
				t.Errorf("handled[%s] = %v, want %v", e.Path, p.handled[e], want)
			}
		}
		if len(p.early) != 0 {
			t.Errorf("early = %v, want none", p.early)
		}
	})
	t.Run("more spare segments than new ones", func(t *testing.T) {
		r := &run{tgtCF: &pgcontrol.ControlFile{WalSegSize: seg}}
		p := r.planWAL([]*filemap.FileEntry{new1, old1, old2, deeper})
		if len(p.renames) != 1 || len(p.early) != 1 || !p.handled[old1] || !p.handled[old2] || p.handled[deeper] {
			t.Errorf("renames %v, early %d, handled %v: want one rename and one early removal", p.renames, len(p.early), p.handled)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		r := &run{opts: Options{DryRun: true}, tgtCF: &pgcontrol.ControlFile{WalSegSize: seg}}
		p := r.planWAL([]*filemap.FileEntry{common, new1, old1})
		if len(p.renames)+len(p.inPlace)+len(p.handled)+len(p.early) != 0 {
			t.Errorf("a dry run plans %+v, want nothing", p)
		}
	})
}
