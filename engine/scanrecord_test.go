package engine

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// sampleScanRecord is a record with every field set.
func sampleScanRecord() *scanRecord {
	return &scanRecord{
		SystemID: 7412345678901234567, CheckPoint: 0x28FE10A0,
		Divergence: 0x0D000100, DivergenceTLI: 1, TargetEnd: 0x28FE1118,
		CommonLSN: 0x0C0000A0, CommonRedo: 0x0C000028, CommonTLI: 1,
		History: timeline.History{{TLI: 1, End: 0x0D000100}, {TLI: 2, Begin: 0x0D000100}},
		KeepWAL: []string{"00000001000000000000000C", "00000001000000000000000D"},
		Lost:    &Lost{WALBytes: 42, Commits: []LostCommit{{XID: 750, Time: "2026-11-27T10:00:00Z"}}, Relations: []LostRelation{{SpcNode: 1663, DBNode: 5, RelNode: 16384, Blocks: 2}}},
		Blocks: []changedBlock{
			{filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 16384}, 0},
			{filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 16384}, 0xFFFFFFFE},
			{filemap.RelFileNode{Spc: 16390, DB: 16391, Rel: 16400}, 7},
		},
	}
}

// TestScanRecordRoundTrip: what marshal writes, parse reads back whole.
func TestScanRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *scanRecord
	}{
		{"every field", sampleScanRecord()},
		{"no blocks, no lost", &scanRecord{SystemID: 1, CheckPoint: 2, History: timeline.Single(1), Blocks: []changedBlock{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.rec.marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseScanRecord(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, tc.rec)
			}
		})
	}
}

// TestScanRecordDamage: a record that is cut, flipped or of another kind is
// refused, never half read.
func TestScanRecordDamage(t *testing.T) {
	raw, err := sampleScanRecord().marshal()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"cut short", raw[:len(raw)-5]},
		{"cut to the header", raw[:40]},
		{"a header bit flipped", flip(len(scanRecordMagic) + 10)},
		{"a block bit flipped", flip(len(raw) - 10)},
		{"the checksum flipped", flip(len(raw) - 1)},
		{"another file", []byte("{\"started\":\"2026-11-27T10:00:00Z\",\"pid\":1,\"phase\":\"copy\"}\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseScanRecord(tc.raw)
			if !errors.Is(err, errScanRecordCorrupt) {
				t.Fatalf("parse = %v, want a corrupt-record error", err)
			}
		})
	}
}

// TestScanRecordPath: the record sits beside the marker.
func TestScanRecordPath(t *testing.T) {
	if got, want := ScanRecordPath("/var/lib/postgresql/15/main"), "/var/lib/postgresql/15/.main.pgrunbook-rewind.scan"; got != want {
		t.Errorf("ScanRecordPath = %q, want %q", got, want)
	}
}
