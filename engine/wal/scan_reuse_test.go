package wal

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// TestScanReusesOnlyDuringScan checks the scan's memory reuse: every block
// reference arrives intact, records spanning pages included, and records
// that Next returns after a scan are not overwritten by the reads after
// them.
func TestScanReusesOnlyDuringScan(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	type want struct {
		at  lsn.LSN
		rel RelFileNode
		blk uint32
	}
	var wants []want
	for i := range 40 {
		rel := RelFileNode{Spc: 1663, DB: 5, Rel: 16384 + uint32(i%3)}
		// Every fifth record is bigger than a page, so that it is
		// assembled from several.
		size := 40
		if i%5 == 0 {
			size = testPageSize + 100
		}
		at := b.add(rmHeap, 0, 0, blockBody(rel, uint32(i), bytes.Repeat([]byte{byte(i)}, size), []byte("m")))
		wants = append(wants, want{at, rel, uint32(i)})
	}
	end := b.add(21, 0, 0, mainData([]byte("x")))
	r := b.reader(l)
	var got []want
	err := ScanBlocks(t.Context(), r, wants[0].at, end, ScanFuncs{Block: func(rec *Record, ref BlockRef) error {
		if len(rec.MainData) != 1 || rec.MainData[0] != 'm' {
			return fmt.Errorf("record at %s: main data %q", rec.LSN, rec.MainData)
		}
		got = append(got, want{rec.LSN, ref.Rel, ref.BlockNo})
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(wants) {
		t.Errorf("block references\n got %v\nwant %v", got, wants)
	}

	first, err := r.ReadRecord(t.Context(), wants[0].at)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := r.Next(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if first.LSN != wants[0].at || len(first.Blocks) != 1 || first.Blocks[0].BlockNo != 0 || string(first.MainData) != "m" {
		t.Errorf("record read after the scan changed under its caller: %v %+v %q", first, first.Blocks, first.MainData)
	}
}
