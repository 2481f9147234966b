package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

const rmHeap = 10

var testRel = RelFileNode{Spc: 1663, DB: 5, Rel: 16384}

// TestSyntheticWAL builds short, page-spanning and segment-spanning records
// and reads them back sequentially and at random.
func TestSyntheticWAL(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	type built struct {
		at   lsn.LSN
		main []byte
	}
	var recs []built
	for i := range 300 {
		main := bytes.Repeat([]byte{byte(i)}, 10+i*97%(3*testPageSize))
		var at lsn.LSN
		if i%3 == 0 {
			at = b.add(rmHeap, 0x00, uint32(700+i), blockBody(testRel, uint32(i), []byte("tuple"), main[:min(len(main), 200)]))
			main = main[:min(len(main), 200)]
		} else {
			at = b.add(21, 0x00, 0, mainData(main))
		}
		recs = append(recs, built{at, main})
	}
	if len(b.segs) < 2 {
		t.Fatalf("synthetic WAL fits one segment; want a segment crossing")
	}
	r := b.reader(l)
	r.Seek(testSegSize)
	for i, want := range recs {
		rec, err := r.Next(t.Context())
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rec.LSN != want.at || !bytes.Equal(rec.MainData, want.main) {
			t.Fatalf("record %d at %s: got LSN %s, %d bytes of main data", i, want.at, rec.LSN, len(rec.MainData))
		}
		if i%3 == 0 && (len(rec.Blocks) != 1 || rec.Blocks[0].Rel != testRel || rec.Blocks[0].BlockNo != uint32(i) || rec.XID != uint32(700+i)) {
			t.Fatalf("record %d: blocks %+v", i, rec.Blocks)
		}
		if i+1 < len(recs) && rec.EndLSN != recs[i+1].at && rec.EndLSN%testPageSize != 0 {
			t.Fatalf("record %d ends at %s, next starts at %s", i, rec.EndLSN, recs[i+1].at)
		}
	}
	_, err := r.Next(t.Context())
	if !errors.Is(err, ErrEndOfWAL) {
		t.Fatalf("after the last record: %v, want end of WAL", err)
	}
	// Random access to every record, in reverse.
	for i := len(recs) - 1; i >= 0; i-- {
		rec, err := r.ReadRecord(t.Context(), recs[i].at)
		if err != nil || rec.LSN != recs[i].at {
			t.Fatalf("ReadRecord(%s) = %v, %v", recs[i].at, rec, err)
		}
	}
}

// TestOverwriteContrecord reads past a record that a crash cut off: the
// next page says FIRST_IS_OVERWRITE_CONTRECORD, and the reader must go on
// with the record at that page instead of failing.
func TestOverwriteContrecord(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	a := b.add(21, 0, 0, mainData(bytes.Repeat([]byte{1}, 7000)))
	b.addTorn(21, 0, mainData(bytes.Repeat([]byte{2}, 5000)))
	b.pos = (b.pos + testPageSize - 1) / testPageSize * testPageSize
	over := b.add(layout.RmgrXLOG, 0xD0, 0, mainData(make([]byte, 16)))
	after := b.add(21, 0, 0, mainData([]byte("after")))

	r := b.reader(l)
	r.Seek(a)
	var got []lsn.LSN
	for range 3 {
		rec, err := r.Next(t.Context())
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, rec.LSN)
	}
	if got[0] != a || got[1] != over || got[2] != after {
		t.Errorf("read %v, want %s, %s, %s", got, a, over, after)
	}
}

func TestPrevLinkChecks(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	first := b.add(21, 0, 0, mainData([]byte("one")))
	b.prev = 0x12345 // a wrong prev-link for the next record
	second := b.add(21, 0, 0, mainData([]byte("two")))
	b.prev = 0xFFFFFFFF // a prev-link pointing forward
	third := b.add(21, 0, 0, mainData([]byte("three")))

	r := b.reader(l)
	if _, err := r.ReadRecord(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next(t.Context())
	want := "record with incorrect prev-link 0/12345 at " + second.String()
	if err == nil || err.Error() != want {
		t.Errorf("sequential: %v, want %q", err, want)
	}
	// Random access accepts any earlier record.
	if _, err := r.ReadRecord(t.Context(), second); err != nil {
		t.Errorf("random access to %s: %v", second, err)
	}
	_, err = r.ReadRecord(t.Context(), third)
	if err == nil || !strings.Contains(err.Error(), "record with incorrect prev-link") {
		t.Errorf("forward prev-link: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	at := b.add(21, 0, 0, mainData([]byte("one")))
	r := b.reader(l)
	tests := []struct {
		name string
		at   lsn.LSN
		want string
	}{
		{"inside the page header", testSegSize + 8, "invalid record offset at 0/100008: expected at least 40, got 8"},
		{"end of WAL", b.pos, "invalid record length at " + b.pos.String() + ": wanted 24, got 0"},
		{"missing segment", 5 * testSegSize, "could not open file \"mem/000000010000000000000005\""},
	}
	for _, tt := range tests {
		_, err := r.ReadRecord(t.Context(), tt.at)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := r.ReadRecord(t.Context(), at); err != nil {
		t.Errorf("good record: %v", err)
	}
}

// TestSpecialRecords checks the whitelist: known file-level records pass,
// an unknown record flagged XLR_SPECIAL_REL_UPDATE stops the scan.
func TestSpecialRecords(t *testing.T) {
	l := layout15()
	tests := []struct {
		name       string
		rmid, info uint8
		wantErr    string
	}{
		{"dbase create wal log", layout.RmgrDBASE, 0x10 | InfoSpecialRelUpdate, ""},
		{"smgr truncate", layout.RmgrSMGR, 0x20 | InfoSpecialRelUpdate, ""},
		{"xact abort", layout.RmgrXACT, 0x20 | InfoSpecialRelUpdate, ""},
		{"heap without flag", rmHeap, 0x00, ""},
		{"heap with flag", rmHeap, 0x30 | InfoSpecialRelUpdate, "WAL record modifies a relation, but record type is not recognized: lsn: 0/100028, rmid: 10, rmgr: Heap, info: 31"},
		{"custom rmgr with flag", 200, 0x01, "rmgr: custom200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(l, testSegSize)
			at := b.add(tt.rmid, tt.info, 0, mainData(make([]byte, 16)))
			end := b.add(21, 0, 0, mainData([]byte("x")))
			err := ScanBlocks(t.Context(), b.reader(l), at, end, ScanFuncs{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestScanCommit decodes commit records with and without xinfo.
func TestScanCommit(t *testing.T) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	ts := make([]byte, 8)
	binary.LittleEndian.PutUint64(ts, 1_000_000) // one second after 2000-01-01
	plain := b.add(layout.RmgrXACT, 0x00, 801, mainData(ts))
	// COMMIT PREPARED with xinfo: dbinfo, 2 subxacts, 1 dropped stat,
	// 1 inval message, then the prepared xid.
	var d []byte
	d = append(d, ts...)
	d = binary.LittleEndian.AppendUint32(d, xinfoHasDBInfo|xinfoHasSubxacts|xinfoHasDroppedStats|xinfoHasInvals|xinfoHasTwoPhase)
	d = append(d, make([]byte, 8)...)
	d = binary.LittleEndian.AppendUint32(d, 2)
	d = append(d, make([]byte, 8)...)
	d = binary.LittleEndian.AppendUint32(d, 1)
	d = append(d, make([]byte, 12)...)
	d = binary.LittleEndian.AppendUint32(d, 1)
	d = append(d, make([]byte, 16)...)
	d = binary.LittleEndian.AppendUint32(d, 725)
	prepared := b.add(layout.RmgrXACT, 0x30|xactHasInfo, 0, mainData(d))
	end := b.add(21, 0, 0, mainData([]byte("x")))
	var got []Commit
	err := ScanBlocks(t.Context(), b.reader(l), plain, end, ScanFuncs{Commit: func(c Commit) error {
		got = append(got, c)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d commits", len(got))
	}
	if got[0].LSN != plain || got[0].XID != 801 || got[0].Prepared || got[0].Time.Unix() != 946684801 {
		t.Errorf("plain commit: %+v", got[0])
	}
	if got[1].LSN != prepared || got[1].XID != 725 || !got[1].Prepared {
		t.Errorf("prepared commit: %+v", got[1])
	}
}
