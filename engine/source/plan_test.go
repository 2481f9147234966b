package source

import (
	"reflect"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

func TestPlan(t *testing.T) {
	m := filemap.New(filemap.Config{Major: 15, CatVersion: 202209061})
	add := func(fn func(filemap.File) error, f filemap.File) {
		if err := fn(f); err != nil {
			t.Fatal(err)
		}
	}
	reg := func(p string, n int64) filemap.File { return filemap.File{Path: p, Type: filemap.TypeRegular, Size: n} }
	add(m.AddSource, reg("base/5/100", 5*8192))
	add(m.AddTarget, reg("base/5/100", 3*8192))
	add(m.AddSource, reg("base/5/200", 2*8192))
	add(m.AddTarget, reg("base/5/200", 4*8192))
	add(m.AddSource, reg("postgresql.conf", 99))
	add(m.AddTarget, reg("postgresql.conf", 12))
	add(m.AddTarget, reg("gone", 12))
	for _, b := range []uint32{2, 0, 1} {
		if err := m.AddBlock(filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 100}, filemap.ForkMain, b); err != nil {
			t.Fatal(err)
		}
		if err := m.AddBlock(filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 200}, filemap.ForkMain, b); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := m.Decide()
	if err != nil {
		t.Fatal(err)
	}
	got := Plan(entries, 8192)
	want := []Range{
		{Path: "postgresql.conf", Length: 99, Whole: true},
		{Path: "base/5/100", Offset: 0, Length: 8192},
		{Path: "base/5/100", Offset: 8192, Length: 8192},
		{Path: "base/5/100", Offset: 16384, Length: 8192},
		{Path: "base/5/100", Offset: 3 * 8192, Length: 2 * 8192},
		{Path: "base/5/200", Offset: 0, Length: 8192},
		{Path: "base/5/200", Offset: 8192, Length: 8192},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n%+v\nwant:\n%+v", got, want)
	}
}
