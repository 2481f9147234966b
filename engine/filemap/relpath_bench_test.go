package filemap

import "testing"

// BenchmarkRelPath guards the WAL scan's hot path: every block reference
// of the target's WAL is mapped to its segment file.
func BenchmarkRelPath(b *testing.B) {
	rel := RelFileNode{Spc: DefaultTablespaceOID, DB: 16384, Rel: 16397}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = RelPath(rel, ForkMain, uint32(i&3), 15, 202209061)
	}
}

// BenchmarkAddBlock measures recording one changed block, as the WAL scan
// does for every main-fork block reference.
func BenchmarkAddBlock(b *testing.B) {
	m := New(Config{Major: 15, CatVersion: 202209061})
	for seg := range 4 {
		path := RelPath(RelFileNode{Spc: DefaultTablespaceOID, DB: 5, Rel: 16397}, ForkMain, uint32(seg), 15, 202209061)
		f := File{Path: path, Type: TypeRegular, Size: 1 << 30}
		if err := m.AddSource(f); err != nil {
			b.Fatal(err)
		}
		if err := m.AddTarget(f); err != nil {
			b.Fatal(err)
		}
	}
	rel := RelFileNode{Spc: DefaultTablespaceOID, DB: 5, Rel: 16397}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := m.AddBlock(rel, ForkMain, uint32(i)%(4*DefaultRelSegSize)); err != nil {
			b.Fatal(err)
		}
	}
}
