package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

func segName(seg lsn.SegNo) string {
	return lsn.SegmentName(1, seg, cluster.control.WalSegSize)
}

func isCheckpoint(rec *Record) bool {
	op := rec.Info & 0xF0
	return rec.RmID == layout.RmgrXLOG && (op == xlogCheckpointShutdown || op == xlogCheckpointOnline)
}

// lastCheckpointBefore is the expected answer of FindLastCommonCheckpoint,
// computed from a forward read.
func lastCheckpointBefore(recs []*Record, p lsn.LSN) *Record {
	var found *Record
	for _, r := range recs {
		if r.LSN < p && isCheckpoint(r) {
			found = r
		}
	}
	return found
}

func TestFindLastCommonCheckpoint(t *testing.T) {
	needCluster(t)
	recs := readAll(t, newReader(t, cluster.walDir, nil))
	var checkpoints []int
	for i, r := range recs {
		if isCheckpoint(r) {
			checkpoints = append(checkpoints, i)
		}
	}
	if len(checkpoints) < 3 {
		t.Fatalf("only %d checkpoints in the WAL", len(checkpoints))
	}
	var forks []lsn.LSN
	for _, i := range checkpoints[1:] {
		forks = append(forks, recs[i].LSN)                        // the checkpoint itself does not count (strict <)
		forks = append(forks, recs[min(i+5, len(recs)-1)].LSN)    // a few records later
		forks = append(forks, recs[min(i+1, len(recs)-2)].EndLSN) // an end pointer
	}
	forks = append(forks, firstRecordIn(recs, 2).LSN) // across a segment boundary
	for _, fork := range forks {
		want := lastCheckpointBefore(recs, fork)
		r := newReader(t, cluster.walDir, nil)
		got, keep, err := FindLastCommonCheckpoint(t.Context(), r, fork)
		if err != nil {
			t.Fatalf("fork at %s: %v", fork, err)
		}
		cp, _ := decodeCheckpointForTest(t, want)
		if got.LSN != want.LSN || got.Redo != cp.redo || got.TLI != 1 || got.Shutdown != (want.Info&0xF0 == 0) {
			t.Errorf("fork at %s: got %+v, want checkpoint at %s redo %s", fork, got, want.LSN, cp.redo)
		}
		// keep covers the segments from the checkpoint's to the fork's.
		for s := want.LSN.Segment(cluster.control.WalSegSize); s <= (fork - 1).Segment(cluster.control.WalSegSize); s++ {
			if !slices.Contains(keep, segName(s)) {
				t.Errorf("fork at %s: keep %v lacks %s", fork, keep, segName(s))
			}
		}
	}
}

// firstRecordIn returns the first record that starts in segment seg.
func firstRecordIn(recs []*Record, seg lsn.SegNo) *Record {
	for _, r := range recs {
		if r.LSN.Segment(cluster.control.WalSegSize) == seg {
			return r
		}
	}
	return nil
}

type checkpointFields struct{ redo lsn.LSN }

func decodeCheckpointForTest(t *testing.T, rec *Record) (checkpointFields, error) {
	t.Helper()
	if len(rec.MainData) < 88 {
		t.Fatalf("checkpoint record at %s has %d bytes of main data", rec.LSN, len(rec.MainData))
	}
	return checkpointFields{redo: lsn.LSN(binary.LittleEndian.Uint64(rec.MainData))}, nil
}

// TestReadRecordAtPageBoundary reads a record through a pointer to the
// start of its page, which must skip the page header.
func TestReadRecordAtPageBoundary(t *testing.T) {
	needCluster(t)
	recs := readAll(t, newReader(t, cluster.walDir, nil))
	ps := lsn.LSN(cluster.control.WalBlockSize)
	n := 0
	for _, rec := range recs {
		off := rec.LSN % ps
		hs := lsn.LSN(shortPageHeaderSize)
		if rec.LSN.SegmentOffset(cluster.control.WalSegSize) < uint32(ps) {
			hs = longPageHeaderSize
		}
		if off != hs {
			continue
		}
		got, err := newReader(t, cluster.walDir, nil).ReadRecord(t.Context(), rec.LSN-off)
		if err != nil {
			t.Fatalf("read at %s: %v", rec.LSN-off, err)
		}
		if got.LSN != rec.LSN || got.EndLSN != rec.EndLSN {
			t.Errorf("read at %s gave the record at %s, want %s", rec.LSN-off, got.LSN, rec.LSN)
		}
		if n++; n == 5 {
			break
		}
	}
	if n == 0 {
		t.Fatal("no record starts right after a page header")
	}
}

// missingSegmentSetup removes segment 1 from a copy of pg_wal and returns
// the copy, the archive holding the removed file, and a fork point whose
// last common checkpoint lies in segment 1.
func missingSegmentSetup(t *testing.T) (walDir, archive string, fork lsn.LSN) {
	t.Helper()
	recs := readAll(t, newReader(t, cluster.walDir, nil))
	fork = firstRecordIn(recs, 2).LSN
	if cp := lastCheckpointBefore(recs, fork); cp == nil || cp.LSN.Segment(cluster.control.WalSegSize) != 1 {
		t.Fatalf("want the last checkpoint before %s in segment 1, got %v", fork, cp)
	}
	walDir = copyWAL(t)
	archive = t.TempDir()
	if err := os.Rename(filepath.Join(walDir, segName(1)), filepath.Join(archive, segName(1))); err != nil {
		t.Fatal(err)
	}
	return walDir, archive, fork
}

func TestMissingSegmentNamed(t *testing.T) {
	needCluster(t)
	walDir, _, fork := missingSegmentSetup(t)
	_, _, err := FindLastCommonCheckpoint(t.Context(), newReader(t, walDir, nil), fork)
	var mse *MissingSegmentError
	if !errors.As(err, &mse) || mse.Name != segName(1) {
		t.Fatalf("error %v, want a MissingSegmentError for %s", err, segName(1))
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{
		"could not find previous WAL record at",
		`could not open file "` + filepath.Join(walDir, segName(1)) + `"`,
		"WAL segment 000000010000000000000001 is missing",
		"-c",
		"archive",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestMissingSegmentFetched(t *testing.T) {
	needCluster(t)
	copyCmd := func(archive string) string { return "cp " + archive + "/%f %p" }
	tests := []struct {
		name    string
		fetcher func(t *testing.T, archive string) Fetcher
		wantErr string
	}{
		{
			name: "go func",
			fetcher: func(t *testing.T, archive string) Fetcher {
				return func(ctx context.Context, name, dest string) error {
					b, err := os.ReadFile(filepath.Join(archive, name))
					if err != nil {
						return err
					}
					return os.WriteFile(dest, b, 0o600)
				}
			},
		},
		{
			name: "restore_command",
			fetcher: func(t *testing.T, archive string) Fetcher {
				f, err := RestoreCommand(copyCmd(archive))
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
		},
		{
			name: "restore_command that fails",
			fetcher: func(t *testing.T, archive string) Fetcher {
				f, err := RestoreCommand("cp " + archive + "/nonexistent-%f %p")
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
			wantErr: `could not restore file "000000010000000000000001" from archive`,
		},
		{
			name: "restore_command that restores a short file",
			fetcher: func(t *testing.T, archive string) Fetcher {
				f, err := RestoreCommand("head -c 8192 " + archive + "/%f > %p")
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
			wantErr: "instead of 16777216",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			walDir, archive, fork := missingSegmentSetup(t)
			_, _, err := FindLastCommonCheckpoint(t.Context(), newReader(t, walDir, tt.fetcher(t, archive)), fork)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Like pg_rewind, the restored file stays in pg_wal.
			if st, err := os.Stat(filepath.Join(walDir, segName(1))); err != nil || st.Size() != int64(cluster.control.WalSegSize) {
				t.Errorf("restored segment not left in pg_wal: %v", err)
			}
		})
	}
}

func TestRestoreCommandPercentR(t *testing.T) {
	if _, err := RestoreCommand("cp /arch/%f %p %r"); !errors.Is(err, ErrRestoreCommandPercentR) {
		t.Errorf("error %v, want ErrRestoreCommandPercentR", err)
	}
}

// damage applies fn to a copy of one segment file and returns the copy's
// directory.
func damage(t *testing.T, seg lsn.SegNo, fn func(b []byte) []byte) string {
	t.Helper()
	dir := copyWAL(t)
	path := filepath.Join(dir, segName(seg))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readAllErr(t *testing.T, walDir string) error {
	t.Helper()
	r := newReader(t, walDir, nil)
	r.Seek(lsn.LSN(cluster.control.WalSegSize))
	for {
		if _, err := r.Next(t.Context()); err != nil {
			return err
		}
	}
}

func TestDamagedSegments(t *testing.T) {
	needCluster(t)
	recs := readAll(t, newReader(t, cluster.walDir, nil))
	ps := int(cluster.control.WalBlockSize)
	segSize := cluster.control.WalSegSize
	// A record in segment 2 whose body lies on one page.
	var victim *Record
	for _, r := range recs {
		off := int(r.LSN.SegmentOffset(segSize))
		if r.LSN.Segment(segSize) == 2 && r.TotalLen > 40 && off%ps+int(r.TotalLen) < ps {
			victim = r
			break
		}
	}
	if victim == nil {
		t.Fatal("no suitable record in segment 2")
	}
	seg1, err := os.ReadFile(filepath.Join(cluster.walDir, segName(1)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		seg  lsn.SegNo
		fn   func(b []byte) []byte
		want []string
	}{
		{
			name: "recycled segment",
			seg:  3,
			fn:   func([]byte) []byte { return append([]byte(nil), seg1...) },
			want: []string{"unexpected pageaddr 0/1000000 in WAL segment 000000010000000000000003, LSN 0/3000000, offset 0", "recycled"},
		},
		{
			name: "truncated segment",
			seg:  2,
			fn:   func(b []byte) []byte { return b[:1<<20+100] },
			want: []string{`could not read file "`, segName(2), "truncated"},
		},
		{
			name: "CRC mismatch",
			seg:  2,
			fn: func(b []byte) []byte {
				b[int(victim.LSN.SegmentOffset(segSize))+recordHeaderSize+int(victim.TotalLen-recordHeaderSize)/2] ^= 0x40
				return b
			},
			want: []string{"incorrect resource manager data checksum in record at " + victim.LSN.String()},
		},
		{
			name: "timeline goes backwards",
			seg:  2,
			fn: func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[ps+4:], 2) // page 1 claims timeline 2, page 2 says 1
				return b
			},
			want: []string{"out-of-sequence timeline ID 1 (after 2) in WAL segment " + segName(2)},
		},
		{
			name: "other cluster",
			seg:  2,
			fn: func(b []byte) []byte {
				binary.LittleEndian.PutUint64(b[24:], 42)
				return b
			},
			want: []string{"WAL file is from different database system", "identifier is 42"},
		},
		{
			name: "bad magic",
			seg:  2,
			fn: func(b []byte) []byte {
				binary.LittleEndian.PutUint16(b[5*ps:], 0xD10D)
				return b
			},
			want: []string{"invalid magic number D10D in WAL segment " + segName(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readAllErr(t, damage(t, tt.seg, tt.fn))
			if errors.Is(err, ErrEndOfWAL) {
				t.Fatalf("damage read as end of WAL: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestTimelineSegmentChoice pretends timeline 2 branched off inside
// segment 2: segments 2 and 3 then exist under timeline 2's name, and the
// reader must take segment 2 from timeline 2's file, not timeline 1's.
func TestTimelineSegmentChoice(t *testing.T) {
	needCluster(t)
	want := readAll(t, newReader(t, cluster.walDir, nil))
	dir := copyWAL(t)
	segSize := cluster.control.WalSegSize
	for _, s := range []lsn.SegNo{2, 3} {
		if err := os.Rename(filepath.Join(dir, segName(s)), filepath.Join(dir, lsn.SegmentName(2, s, segSize))); err != nil {
			t.Fatal(err)
		}
	}
	// Timeline 1's copy of segment 2 holds old junk after the switch point.
	if err := os.WriteFile(filepath.Join(dir, segName(2)), make([]byte, segSize), 0o600); err != nil {
		t.Fatal(err)
	}
	switchPoint := lsn.SegNo(2).Start(segSize) + 0x1000
	h, err := timeline.Parse("00000002.history", []byte("1\t"+switchPoint.String()+"\tno recovery target specified\n"), 2)
	if err != nil {
		t.Fatal(err)
	}
	src := NewDir(dir, segSize, nil)
	defer src.Close()
	r, err := NewReader(ConfigFor(cluster.control, src, h))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != len(want) || got[len(got)-1].LSN != want[len(want)-1].LSN {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	wantSegs := []string{segName(1), lsn.SegmentName(2, 2, segSize), lsn.SegmentName(2, 3, segSize)}
	if segs := r.Segments(); !slices.Equal(segs, wantSegs) {
		t.Errorf("segments read %v, want %v", segs, wantSegs)
	}
}
