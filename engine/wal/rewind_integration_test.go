package wal

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// split is a real split brain made the way pg_rewind's tests make one: a
// primary (old) streams to a standby (new), the standby is promoted to
// timeline 2, both sides write, and both are stopped. pg_rewind -n --debug
// run on the pair is the oracle.
var split struct {
	once     sync.Once
	dir      string
	old, new string // data directories
	rewind   string // pg_rewind -n --debug output
	err      error
}

func needSplit(t *testing.T) {
	t.Helper()
	needCluster(t) // same root requirement; also makes TestMain clean up
	split.once.Do(func() { split.err = setupSplit() })
	if split.err != nil {
		t.Fatalf("set up the split-brain pair: %v", split.err)
	}
}

func setupSplit() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	split.dir = filepath.Join(cluster.dir, "split")
	if err := os.Mkdir(split.dir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(split.dir, uid, gid); err != nil {
		return err
	}
	split.old = filepath.Join(split.dir, "old")
	split.new = filepath.Join(split.dir, "new")
	sockOld := filepath.Join(split.dir, "sock-old")
	sockNew := filepath.Join(split.dir, "sock-new")
	for _, d := range []string{sockOld, sockNew} {
		if err := asPostgres("mkdir", "-m", "700", d); err != nil {
			return err
		}
	}
	pg := func(argv ...string) error {
		return asPostgres(append([]string{filepath.Join(pgBin, argv[0])}, argv[1:]...)...)
	}
	sql := func(sock, q string) (string, error) {
		cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "psql"), "-h", sock, "-U", "postgres", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", q)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("psql %q: %w\n%s", q, err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	opts := func(sock string) string {
		return "-c listen_addresses='' -k " + sock + " -c fsync=off -c wal_keep_size=1GB -c autovacuum=off"
	}
	if err := pg("initdb", "-k", "-D", split.old, "-U", "postgres", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	if err := pg("pg_ctl", "-D", split.old, "-w", "-l", split.old+".log", "-o", opts(sockOld), "start"); err != nil {
		return err
	}
	defer pg("pg_ctl", "-D", split.old, "-w", "-m", "immediate", "stop")
	steps := []func() error{
		func() error {
			_, err := sql(sockOld, "create table t(a int primary key, b text); insert into t select g, 'common' from generate_series(1, 500) g; checkpoint")
			return err
		},
		func() error {
			return pg("pg_basebackup", "-h", sockOld, "-U", "postgres", "-D", split.new, "-R", "-X", "stream", "-c", "fast", "--no-sync")
		},
		func() error {
			return pg("pg_ctl", "-D", split.new, "-w", "-l", split.new+".log", "-o", opts(sockNew), "start")
		},
		func() error {
			_, err := sql(sockOld, "insert into t select g, 'before promotion' from generate_series(501, 600) g; checkpoint")
			return err
		},
		func() error { return waitReplay(sql, sockOld, sockNew) },
		func() error { return pg("pg_ctl", "-D", split.new, "-w", "promote") },
		func() error {
			_, err := sql(sockNew, "checkpoint; insert into t values (10000, 'new primary')")
			return err
		},
		func() error {
			_, err := sql(sockOld, "update t set b = 'lost' where a % 10 = 0; insert into t select g, 'lost' from generate_series(20000, 21000) g")
			return err
		},
		func() error { return pg("pg_ctl", "-D", split.new, "-w", "-m", "fast", "stop") },
		func() error { return pg("pg_ctl", "-D", split.old, "-w", "-m", "fast", "stop") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			pg("pg_ctl", "-D", split.new, "-w", "-m", "immediate", "stop")
			return err
		}
	}
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_rewind"), "-n", "--debug", "-D", split.old, "--source-pgdata", split.new)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_rewind -n: %w\n%s", err, out)
	}
	split.rewind = string(out)
	return nil
}

// waitReplay waits until the standby has replayed what the primary wrote.
func waitReplay(sql func(sock, q string) (string, error), primary, standby string) error {
	target, err := sql(primary, "select pg_current_wal_flush_lsn()")
	if err != nil {
		return err
	}
	for range 200 {
		done, err := sql(standby, "select pg_last_wal_replay_lsn() >= '"+target+"'::pg_lsn")
		if err != nil {
			return err
		}
		if done == "t" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("standby did not replay up to %s", target)
}

var (
	rewindDiverged   = regexp.MustCompile(`servers diverged at WAL location (\S+) on timeline (\d+)`)
	rewindCheckpoint = regexp.MustCompile(`rewinding from last common checkpoint at (\S+) on timeline (\d+)`)
	rewindFile       = regexp.MustCompile(`^pg_rewind: (?:debug: )?(\S+) \((\w+)\)$`)
	rewindBlock      = regexp.MustCompile(`^pg_rewind: (?:debug: )?\s*block (\d+)$`)
)

// TestSplitBrainMatchesPgRewind runs the engine's timeline and WAL steps on
// a real split brain and compares each answer with pg_rewind's.
func TestSplitBrainMatchesPgRewind(t *testing.T) {
	needSplit(t)
	m := rewindDiverged.FindStringSubmatch(split.rewind)
	c := rewindCheckpoint.FindStringSubmatch(split.rewind)
	if m == nil || c == nil {
		t.Fatalf("pg_rewind output lacks the divergence or checkpoint:\n%s", split.rewind)
	}
	oldCF, err := pgcontrol.Read(filepath.Join(split.old, "global", "pg_control"))
	if err != nil {
		t.Fatal(err)
	}
	newCF, err := pgcontrol.Read(filepath.Join(split.new, "global", "pg_control"))
	if err != nil {
		t.Fatal(err)
	}
	if oldCF.Timeline() != 1 || newCF.Timeline() != 2 {
		t.Fatalf("timelines: old %d, new %d", oldCF.Timeline(), newCF.Timeline())
	}
	srcHist, err := timeline.ReadDir(filepath.Join(split.new, "pg_wal"), newCF.Timeline())
	if err != nil {
		t.Fatal(err)
	}
	tgtHist, err := timeline.ReadDir(filepath.Join(split.old, "pg_wal"), oldCF.Timeline())
	if err != nil {
		t.Fatal(err)
	}
	diverge, idx, err := timeline.FindDivergence(srcHist, tgtHist)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %d", diverge, tgtHist[idx].TLI); got != m[1]+" "+m[2] {
		t.Errorf("divergence %s, pg_rewind says %s on timeline %s", got, m[1], m[2])
	}

	src := NewDir(filepath.Join(split.old, "pg_wal"), oldCF.WalSegSize, nil)
	defer src.Close()
	r, err := NewReader(ConfigFor(oldCF, src, tgtHist))
	if err != nil {
		t.Fatal(err)
	}
	ckpt, keep, err := FindLastCommonCheckpoint(t.Context(), r, diverge)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %d", ckpt.LSN, ckpt.TLI); got != c[1]+" "+c[2] {
		t.Errorf("last common checkpoint %s, pg_rewind says %s on timeline %s", got, c[1], c[2])
	}
	if len(keep) == 0 {
		t.Errorf("no segments to keep")
	}

	// The target's WAL ends with its shutdown checkpoint record.
	last, err := r.ReadRecord(t.Context(), oldCF.CheckPoint)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]bool{}
	commits := 0
	err = ScanBlocks(t.Context(), r, ckpt.LSN, last.EndLSN, ScanFuncs{
		Block: func(rec *Record, b BlockRef) error {
			if b.Fork == MainFork {
				seg := b.BlockNo / oldCF.RelSegSize
				path := fmt.Sprintf("base/%d/%d", b.Rel.DB, b.Rel.Rel)
				if b.Rel.Spc == 1664 {
					path = fmt.Sprintf("global/%d", b.Rel.Rel)
				}
				if seg > 0 {
					path += fmt.Sprintf(".%d", seg)
				}
				blocks[fmt.Sprintf("%s %d", path, b.BlockNo%oldCF.RelSegSize)] = true
			}
			return nil
		},
		Commit: func(Commit) error { commits++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if commits == 0 {
		t.Errorf("no commits after the divergence")
	}

	// Every block pg_rewind would fetch must be among ours, and ours that
	// lie inside files both sides have must be among pg_rewind's.
	theirs := map[string]bool{}
	file := ""
	for _, line := range strings.Split(split.rewind, "\n") {
		if fm := rewindFile.FindStringSubmatch(line); fm != nil {
			file = fm[1]
		} else if bm := rewindBlock.FindStringSubmatch(line); bm != nil && file != "" {
			theirs[file+" "+bm[1]] = true
		}
	}
	if len(theirs) == 0 {
		t.Fatalf("pg_rewind listed no blocks:\n%s", split.rewind)
	}
	for k := range theirs {
		if !blocks[k] {
			t.Errorf("pg_rewind fetches %s, the scan did not report it", k)
		}
	}
	for k := range blocks {
		path, blkText, _ := strings.Cut(k, " ")
		blk, _ := strconv.Atoi(blkText)
		if inBoth(path, blk, int(oldCF.BlockSize)) && !theirs[k] {
			t.Errorf("the scan reports %s, pg_rewind does not fetch it", k)
		}
	}
	t.Logf("divergence %s, checkpoint %s, %d blocks (%d fetched by pg_rewind), %d commits, keep %v",
		diverge, ckpt.LSN, len(blocks), len(theirs), commits, keep)
}

// inBoth reports whether block blk of the relation file path lies inside
// the file on both sides, the condition for pg_rewind to fetch it.
func inBoth(path string, blk, blockSize int) bool {
	for _, d := range []string{split.old, split.new} {
		st, err := os.Stat(filepath.Join(d, path))
		if err != nil || int64(blk+1)*int64(blockSize) > st.Size() {
			return false
		}
	}
	return true
}

// TestReadAcrossPromotion reads the promoted side's WAL from its first
// segment to its end with its timeline history: the segment holding the
// switch point must come from timeline 2's file.
func TestReadAcrossPromotion(t *testing.T) {
	needSplit(t)
	cf, err := pgcontrol.Read(filepath.Join(split.new, "global", "pg_control"))
	if err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(split.new, "pg_wal")
	hist, err := timeline.ReadDir(walDir, 2)
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(walDir, "0000000?????????????????"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(a[len(a)-16:], b[len(b)-16:]) })
	_, first, err := lsn.ParseSegmentName(filepath.Base(names[0]), cf.WalSegSize)
	if err != nil {
		t.Fatal(err)
	}
	src := NewDir(walDir, cf.WalSegSize, nil)
	defer src.Close()
	r, err := NewReader(ConfigFor(cf, src, hist))
	if err != nil {
		t.Fatal(err)
	}
	// Start at the first record that begins in the first segment.
	start, err := firstRecordAfter(t, r, first.Start(cf.WalSegSize))
	if err != nil {
		t.Fatal(err)
	}
	r.Seek(start)
	n := 0
	var last *Record
	for {
		rec, err := r.Next(t.Context())
		if err != nil {
			if !isEndOfWAL(err) {
				t.Fatalf("after %d records: %v", n, err)
			}
			break
		}
		n++
		last = rec
	}
	if last == nil || last.LSN != cf.CheckPoint {
		t.Errorf("read %d records ending at %v, want the shutdown checkpoint at %s", n, last, cf.CheckPoint)
	}
	switchSeg := hist[0].End.Segment(cf.WalSegSize)
	want := lsn.SegmentName(2, switchSeg, cf.WalSegSize)
	if !slices.Contains(r.Segments(), want) {
		t.Errorf("segments read %v lack %s", r.Segments(), want)
	}
	if switchSeg > first && !slices.Contains(r.Segments(), lsn.SegmentName(1, switchSeg-1, cf.WalSegSize)) {
		t.Errorf("segments read %v lack timeline 1's segment before the switch", r.Segments())
	}
}

// firstRecordAfter finds where the first whole record of a segment starts:
// after the long page header and any continuation of a record from the
// previous segment.
func firstRecordAfter(t *testing.T, r *Reader, segStart lsn.LSN) (lsn.LSN, error) {
	t.Helper()
	page, hdr, err := r.readPage(t.Context(), segStart)
	if err != nil {
		return 0, err
	}
	_ = page
	p := segStart + lsn.LSN(hdr.size())
	if hdr.info&pageFirstIsContRecord != 0 {
		p += lsn.LSN(maxAlign(uint64(hdr.remLen)))
	}
	return p, nil
}
