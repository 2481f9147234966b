package lsn

import "testing"

// BenchmarkSegmentName guards the WAL reader's hot path: it names a
// segment whenever it moves to another one.
func BenchmarkSegmentName(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = SegmentName(1, SegNo(i), 16<<20)
	}
}
