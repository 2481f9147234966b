package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// dumpRecord is one record as pg_waldump -b prints it.
type dumpRecord struct {
	rmgr           string
	recLen, totLen int
	xid            uint32
	lsn, prev      lsn.LSN
	desc           string
	blocks         []string
}

var (
	dumpLine  = regexp.MustCompile(`^rmgr: (\S+)\s+len \(rec/tot\):\s+(\d+)/\s*(\d+), tx:\s+(\d+), lsn: (\S+), prev (\S+), desc: (.*)$`)
	dumpBlock = regexp.MustCompile(`^\tblkref #(\d+): rel (\d+)/(\d+)/(\d+) fork (\w+) blk (\d+)(.*)$`)
	dumpHole  = regexp.MustCompile(`hole: offset: (\d+), length: (\d+)`)
)

// waldump runs pg_waldump -b over the cluster's WAL from segment 1 to the
// end of WAL and parses its output.
func waldump(t *testing.T) []dumpRecord {
	t.Helper()
	first := lsn.SegmentName(1, 1, cluster.control.WalSegSize)
	// Without an end segment pg_waldump stops at the end of the first.
	segs, err := filepath.Glob(filepath.Join(cluster.walDir, "00000001????????????????"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("list WAL segments: %v", err)
	}
	last := filepath.Base(segs[len(segs)-1])
	cmd := exec.Command(filepath.Join(pgBin, "pg_waldump"), "-b", "-p", cluster.walDir, first, last)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// pg_waldump exits 1 at the end of WAL; the message says why.
	if err != nil && !strings.Contains(stderr.String(), "invalid record length") {
		t.Fatalf("pg_waldump: %v\n%s", err, stderr.String())
	}
	var recs []dumpRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := dumpLine.FindStringSubmatch(line); m != nil {
			rl, _ := strconv.Atoi(m[2])
			tl, _ := strconv.Atoi(m[3])
			xid, _ := strconv.ParseUint(m[4], 10, 32)
			l, err1 := lsn.Parse(m[5])
			p, err2 := lsn.Parse(m[6])
			if err1 != nil || err2 != nil {
				t.Fatalf("bad pg_waldump line %q", line)
			}
			recs = append(recs, dumpRecord{rmgr: m[1], recLen: rl, totLen: tl, xid: uint32(xid), lsn: l, prev: p, desc: m[7]})
			continue
		}
		if m := dumpBlock.FindStringSubmatch(line); m != nil && len(recs) > 0 {
			r := &recs[len(recs)-1]
			r.blocks = append(r.blocks, blockString(m[1], m[2], m[3], m[4], m[5], m[6], m[7]))
		}
	}
	if len(recs) == 0 {
		t.Fatalf("pg_waldump printed no records:\n%s", stderr.String())
	}
	return recs
}

// blockString renders a block reference for comparison: id, relation, fork,
// block and, for images, the hole.
func blockString(id, spc, db, rel, fork, blk, rest string) string {
	s := fmt.Sprintf("#%s %s/%s/%s %s %s", id, spc, db, rel, fork, blk)
	if strings.Contains(rest, "(FPW") {
		s += " FPW"
		if m := dumpHole.FindStringSubmatch(rest); m != nil {
			s += " hole " + m[1] + "+" + m[2]
		}
	}
	return s
}

func ourBlockString(b BlockRef) string {
	s := fmt.Sprintf("#%d %d/%d/%d %s %d", b.ID, b.Rel.Spc, b.Rel.DB, b.Rel.Rel, b.Fork, b.BlockNo)
	if b.HasImage {
		s += fmt.Sprintf(" FPW hole %d+%d", b.Image.HoleOffset, b.Image.HoleLength)
	}
	return s
}

// TestDecodeMatchesWaldump decodes every record of every segment and
// compares it with pg_waldump's view of the same WAL.
func TestDecodeMatchesWaldump(t *testing.T) {
	needCluster(t)
	want := waldump(t)
	got := readAll(t, newReader(t, cluster.walDir, nil))
	if len(got) != len(want) {
		t.Errorf("decoded %d records, pg_waldump printed %d", len(got), len(want))
	}
	var images, compressed, multiPage, crossSegment, forks, switches int
	for i := 0; i < min(len(got), len(want)); i++ {
		g, w := got[i], want[i]
		line := fmt.Sprintf("rmgr %s rec/tot %d/%d tx %d lsn %s prev %s", RmgrName(g.RmID), int(g.TotalLen)-g.ImageLen(), g.TotalLen, g.XID, g.LSN, g.Prev)
		wline := fmt.Sprintf("rmgr %s rec/tot %d/%d tx %d lsn %s prev %s", w.rmgr, w.recLen, w.totLen, w.xid, w.lsn, w.prev)
		if line != wline {
			t.Fatalf("record %d:\n got %s\nwant %s", i, line, wline)
		}
		var gb []string
		for _, b := range g.Blocks {
			gb = append(gb, ourBlockString(b))
			if b.HasImage {
				images++
				if b.Image.Compressed {
					compressed++
				}
			}
			if b.Fork != MainFork {
				forks++
			}
		}
		if strings.Join(gb, "; ") != strings.Join(w.blocks, "; ") {
			t.Fatalf("record %d at %s blocks:\n got %v\nwant %v", i, g.LSN, gb, w.blocks)
		}
		size := cluster.control.WalSegSize
		if i+1 < len(want) {
			// The next record starts at EndLSN, or after the page
			// header when EndLSN is a page boundary.
			next := g.EndLSN
			if next%lsn.LSN(cluster.control.WalBlockSize) == 0 {
				next += shortPageHeaderSize
				if next.SegmentOffset(size) == shortPageHeaderSize {
					next += longPageHeaderSize - shortPageHeaderSize
				}
			}
			if next != want[i+1].lsn {
				t.Errorf("record %d at %s ends at %s, but the next record is at %s", i, g.LSN, g.EndLSN, want[i+1].lsn)
			}
		}
		pages := uint64(g.EndLSN-1)/uint64(cluster.control.WalBlockSize) - uint64(g.LSN)/uint64(cluster.control.WalBlockSize)
		if pages > 1 {
			multiPage++
		}
		if g.LSN.Segment(size) != (g.EndLSN - 1).Segment(size) {
			crossSegment++
		}
		if strings.HasPrefix(w.desc, "SWITCH") {
			switches++
			if g.EndLSN.SegmentOffset(size) != 0 {
				t.Errorf("XLOG_SWITCH at %s ends at %s, not at a segment start", g.LSN, g.EndLSN)
			}
		}
	}
	t.Logf("%d records: %d images (%d compressed), %d non-main forks, %d spanning 3+ pages, %d crossing segments, %d switches",
		len(got), images, compressed, forks, multiPage, crossSegment, switches)
	// The workload was built to exercise these; make sure it did.
	if images == 0 || compressed == 0 || forks == 0 || multiPage == 0 || crossSegment == 0 || switches == 0 {
		t.Errorf("workload did not cover every case")
	}
}

// TestScanBlocksMatchesWaldump scans from the first checkpoint to the end of
// WAL and checks the block references and commits against pg_waldump.
func TestScanBlocksMatchesWaldump(t *testing.T) {
	needCluster(t)
	want := waldump(t)
	start := -1
	for i, w := range want {
		if w.rmgr == "XLOG" && strings.HasPrefix(w.desc, "CHECKPOINT_ONLINE") {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatal("no online checkpoint in the WAL")
	}
	all := readAll(t, newReader(t, cluster.walDir, nil))
	end := all[len(all)-1].EndLSN

	var wantBlocks []string
	var wantCommits []string
	for _, w := range want[start:] {
		for _, b := range w.blocks {
			wantBlocks = append(wantBlocks, w.lsn.String()+" "+b)
		}
		if w.rmgr == "Transaction" && (strings.HasPrefix(w.desc, "COMMIT ") || strings.HasPrefix(w.desc, "COMMIT_PREPARED ")) {
			wantCommits = append(wantCommits, w.lsn.String()+" "+commitFromDesc(t, w))
		}
	}

	var gotBlocks, gotCommits []string
	prepared := 0
	r := newReader(t, cluster.walDir, nil)
	err := ScanBlocks(t.Context(), r, want[start].lsn, end, ScanFuncs{
		Block: func(rec *Record, b BlockRef) error {
			gotBlocks = append(gotBlocks, rec.LSN.String()+" "+ourBlockString(b))
			return nil
		},
		Commit: func(c Commit) error {
			gotCommits = append(gotCommits, fmt.Sprintf("%s %d %s", c.LSN, c.XID, c.Time.UTC().Format("2006-01-02 15:04:05.000000")))
			if c.Prepared {
				prepared++
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(gotBlocks, "\n") != strings.Join(wantBlocks, "\n") {
		t.Errorf("block references differ: got %d, want %d", len(gotBlocks), len(wantBlocks))
	}
	if strings.Join(gotCommits, "\n") != strings.Join(wantCommits, "\n") {
		t.Errorf("commits differ:\n got %v\nwant %v", gotCommits, wantCommits)
	}
	if len(wantCommits) < 5 {
		t.Errorf("only %d commits in the scanned range", len(wantCommits))
	}
	if prepared != 1 {
		t.Errorf("saw %d COMMIT PREPARED records, want 1", prepared)
	}

	// An end point inside a record is refused.
	err = ScanBlocks(t.Context(), newReader(t, cluster.walDir, nil), want[start].lsn, end-8, ScanFuncs{})
	if err == nil || !strings.Contains(err.Error(), "is not a valid end point") {
		t.Errorf("ScanBlocks to a mid-record end: %v", err)
	}
}

// commitFromDesc extracts "xid time" from pg_waldump's description of a
// commit record: "COMMIT 2026-... UTC; ..." or "COMMIT_PREPARED 725: 2026-... UTC".
func commitFromDesc(t *testing.T, w dumpRecord) string {
	t.Helper()
	xid := w.xid
	rest := strings.TrimPrefix(w.desc, "COMMIT ")
	if strings.HasPrefix(w.desc, "COMMIT_PREPARED ") {
		id, tail, _ := strings.Cut(strings.TrimPrefix(w.desc, "COMMIT_PREPARED "), ": ")
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			t.Fatalf("bad COMMIT_PREPARED desc %q", w.desc)
		}
		xid, rest = uint32(n), tail
	}
	ts, _, _ := strings.Cut(rest, " UTC")
	tm, err := time.Parse("2006-01-02 15:04:05.000000", ts)
	if err != nil {
		t.Fatalf("bad commit time in %q: %v", w.desc, err)
	}
	return fmt.Sprintf("%d %s", xid, tm.Format("2006-01-02 15:04:05.000000"))
}
