package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// badInputRow is one way the input of a rewind (or of the WAL staging
// before it) can be wrong. Each row works on its own copy of one stopped,
// diverged old primary; the rows run one after another because some of
// them change the shared new primary and put it back when they end.
type badInputRow struct {
	name string
	// stage runs `pgrunbook wal-stage --archive-dir` instead of the rewind.
	stage bool
	// smallFS puts the row's copy of the target on a small file system.
	smallFS bool
	// breakIt breaks one thing. Whatever it changes outside the row's own
	// directory it restores with t.Cleanup.
	breakIt func(c *badCase)
	// want lists what the error must name: what is wrong and where.
	want func(c *badCase) []string
	// unwanted lists what the output must not show (a password).
	unwanted []string
	// repair, for a failure after writing started, fixes the cause; the
	// row then requires a rerun to succeed and the node to start as a
	// standby with the new primary's data. Without it, the row requires
	// the target to be exactly as it was before the run.
	repair func(c *badCase)
}

// badInputRows are the bad inputs of issue 5, each with the clear error it
// must get.
var badInputRows = []badInputRow{
	{
		name: "truncated WAL segment in pg_wal",
		breakIt: func(c *badCase) {
			must(c.t, os.Truncate(c.walFile(c.p.divergenceSeg), 8192))
		},
		want: func(c *badCase) []string { return []string{c.walFile(c.p.divergenceSeg)} },
	},
	{
		name: "malformed WAL record in pg_wal",
		breakIt: func(c *badCase) {
			// Past the second page's header, inside the common
			// records the rewind reads back from the divergence.
			c.overwrite(c.walFile(c.p.divergenceSeg), 8192+200, 64)
		},
		want: func(c *badCase) []string { return []string{c.walFile(c.p.divergenceSeg)} },
	},
	{
		name: "corrupt pg_control",
		breakIt: func(c *badCase) {
			c.overwrite(filepath.Join(c.target.DataDir, "global", "pg_control"), 40, 8)
		},
		want: func(c *badCase) []string {
			return []string{filepath.Join(c.target.DataDir, "global", "pg_control"), "CRC"}
		},
	},
	{
		name: "history file missing on the source",
		breakIt: func(c *badCase) {
			hist := filepath.Join(c.p.s.Standby.DataDir, "pg_wal", "00000002.history")
			aside := filepath.Join(c.p.s.Standby.Dir, "00000002.history.aside")
			must(c.t, os.Rename(hist, aside))
			c.t.Cleanup(func() { must(c.t, os.Rename(aside, hist)) })
		},
		want: func(c *badCase) []string {
			return []string{`"pg_wal/00000002.history"`, "port=" + strconv.Itoa(c.p.s.Standby.Port)}
		},
	},
	{
		name: "target running",
		breakIt: func(c *badCase) {
			c.identity("autovacuum = off")
			must(c.t, c.target.Start(c.p.s.Ctx))
		},
		want: func(c *badCase) []string {
			return []string{"target server must be shut down cleanly", filepath.Join(c.target.DataDir, "postmaster.pid")}
		},
		unwanted: []string{"single-user"},
	},
	{
		name: "target without data checksums or wal_log_hints",
		breakIt: func(c *badCase) {
			// The old primary ran once more with wal_log_hints off, so
			// its pg_control says so, as a real one would.
			c.identity("wal_log_hints = off", "autovacuum = off")
			must(c.t, c.target.Start(c.p.s.Ctx))
			must(c.t, c.target.Stop(c.p.s.Ctx, pgcluster.StopFast))
		},
		want: func(c *badCase) []string { return []string{`"wal_log_hints = on"`, "data checksums", c.target.DataDir} },
	},
	{
		name: "source without full_page_writes",
		breakIt: func(c *badCase) {
			c.setSource("full_page_writes", "off")
			c.t.Cleanup(func() { c.setSource("full_page_writes", "") })
		},
		want: func(c *badCase) []string { return []string{"full_page_writes", c.p.s.Standby.SocketDir} },
	},
	{
		name: "source role without the grants",
		breakIt: func(c *badCase) {
			c.source = c.p.s.Standby.ConnString(noGrantsRole)
		},
		want: func(c *badCase) []string {
			return []string{noGrantsRole, "pg_ls_dir", "EXECUTE", "port=" + strconv.Itoa(c.p.s.Standby.Port)}
		},
	},
	{
		name: "unreachable source",
		breakIt: func(c *badCase) {
			port, err := pgcluster.FreePort()
			must(c.t, err)
			c.unreachable = fmt.Sprintf("127.0.0.1:%d", port)
			c.source = fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=postgres connect_timeout=5",
				port, rewindtest.RewindRole, badInputPassword)
		},
		want:     func(c *badCase) []string { return []string{c.unreachable} },
		unwanted: []string{badInputPassword},
	},
	{
		name:  "WAL segment of another system in the archive",
		stage: true,
		breakIt: func(c *badCase) {
			c.archiveFirstSegment()
			b, err := os.ReadFile(c.p.foreignSegment)
			must(c.t, err)
			must(c.t, os.WriteFile(filepath.Join(c.archive, c.p.firstSeg), b, 0o600))
		},
		want: func(c *badCase) []string {
			return []string{c.p.firstSeg, filepath.Join(c.archive, c.p.firstSeg), "different database system"}
		},
	},
	{
		name:  "truncated WAL segment in the archive",
		stage: true,
		breakIt: func(c *badCase) {
			c.archiveFirstSegment()
			must(c.t, os.Truncate(filepath.Join(c.archive, c.p.firstSeg), 4<<20))
		},
		want: func(c *badCase) []string {
			return []string{c.p.firstSeg, filepath.Join(c.archive, c.p.firstSeg), "4194304 bytes"}
		},
	},
	{
		name:    "disk full on the target",
		smallFS: true,
		breakIt: func(c *badCase) { c.fill() },
		want:    func(c *badCase) []string { return []string{c.target.DataDir, "no space left on device"} },
		repair: func(c *badCase) {
			must(c.t, os.Remove(c.filler))
		},
	},
}

// noGrantsRole can log in to the new primary but may execute none of the
// functions a rewind needs.
const noGrantsRole = "rewind_nogrants"

// badInputPassword is in the unreachable row's connection string and must
// never be printed.
const badInputPassword = "badinput-Secret-7"

// TestBadInput breaks one input at a time and requires a clear error that
// says what is wrong and where, exit code 1, and a target that is exactly
// as it was (names, sizes, modes and contents), or, when the failure came
// after writing started (a full disk), a rerun that succeeds once the
// cause is fixed and a node that then runs as a standby with the new
// primary's data.
func TestBadInput(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	p := newBadInputPair(t)
	for _, row := range badInputRows {
		t.Run(strings.ReplaceAll(row.name, " ", "_"), func(t *testing.T) { p.run(t, row) })
	}
}

// badInputPair is the shared setup: a stopped old primary that wrote on
// its own after its standby was promoted, and the running new primary.
type badInputPair struct {
	s               *rewindtest.Scenario
	ours, pgrunbook rewindtest.Rewinder
	// savedConf is the old primary's own postgresql.conf (a rewind
	// copies the source's).
	savedConf string
	// firstSeg is the segment of the last common checkpoint's redo
	// point, which every reader of the rewind needs and which the
	// old primary's latest checkpoint is not in.
	firstSeg string
	// divergenceSeg is the segment of the divergence point: common
	// records, then the old primary's own.
	divergenceSeg string
	// foreignSegment is a WAL segment of another cluster.
	foreignSegment string
}

func newBadInputPair(t *testing.T) *badInputPair {
	t.Helper()
	ours := engineRewinder(t)
	p := &badInputPair{ours: ours, pgrunbook: rewindtest.Rewinder{Path: filepath.Join(filepath.Dir(ours.Path), "pgrunbook")}}
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	p.s = s
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int, d text)")
	s.PrimarySQL("INSERT INTO t SELECT g, 'common ' || g FROM generate_series(1, 1000) g")
	s.CreateStandby(pgcluster.Options{})
	// Common WAL after the base backup's checkpoint, so the divergence
	// lies pages past the last common checkpoint.
	s.PrimarySQL("INSERT INTO t SELECT g, 'common ' || g FROM generate_series(1001, 2000) g")
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT g, 'lost ' || g FROM generate_series(2001, 5000) g")
	s.StandbySQL("INSERT INTO t VALUES (-1, 'new primary')")
	s.StandbySQL("CREATE ROLE " + noGrantsRole + " LOGIN")
	s.StandbySQL("CHECKPOINT")
	must(t, s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	p.savedConf = filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), p.savedConf)

	// Which segments the rewind reads, from a dry run of the staging
	// with an empty archive: pg_wal has them all.
	rep, err := engine.StageWAL(s.Ctx, engine.StageOptions{
		TargetDir: s.Primary.DataDir, SourceConninfo: s.Standby.ConnString(rewindtest.RewindRole),
		ArchiveDir: t.TempDir(), DryRun: true,
	})
	if err != nil {
		t.Fatalf("stage dry run on the intact target: %v", err)
	}
	if len(rep.Needed.Segments) < 2 || len(rep.Staged) != 0 {
		t.Fatalf("the rewind should read two segments or more, all in pg_wal: %+v", rep)
	}
	p.firstSeg = rep.Needed.Segments[0]
	div, err := pgcluster.ParseLSN(rep.Divergence.LSN)
	must(t, err)
	const segSize, segsPerID = 16 << 20, 1 << 32 / (16 << 20)
	seg := uint64(div) / segSize
	p.divergenceSeg = fmt.Sprintf("%08X%08X%08X", 1, seg/segsPerID, seg%segsPerID)
	if uint64(div)%segSize < 8192+264 || !slices.Contains(rep.Needed.Segments, p.divergenceSeg) || p.divergenceSeg == p.firstSeg {
		t.Fatalf("the divergence at %s should lie past the second page of a segment the rewind reads after %s: %+v",
			rep.Divergence.LSN, p.firstSeg, rep.Needed)
	}

	other := rewindtest.NewCluster(t, s.Ctx, pgcluster.Options{Name: "other"})
	p.foreignSegment = filepath.Join(other.DataDir, "pg_wal", "000000010000000000000001")
	return p
}

// badCase is one row's run: its own directory and copy of the target.
type badCase struct {
	t *testing.T
	p *badInputPair
	// dir is the row's directory, owned by postgres.
	dir string
	// target is the row's copy of the old primary (not started).
	target *pgcluster.Cluster
	// source is the conninfo the rewind connects with.
	source string
	// archive is the WAL archive of the wal-stage rows.
	archive string
	// unreachable is host:port of the unreachable row.
	unreachable string
	// filler is the file that fills the small file system.
	filler string
}

// run runs one row.
func (p *badInputPair) run(t *testing.T, row badInputRow) {
	c := &badCase{t: t, p: p, dir: p.s.TempDir(), source: p.s.Standby.ConnString(rewindtest.RewindRole)}
	parent := c.dir
	if row.smallFS {
		parent = c.smallFileSystem()
	}
	c.target = p.copyTarget(t, parent)
	row.breakIt(c)
	before := treeState(t, c.target.DataDir)

	res := c.runTool(row.stage)
	if res.ExitCode != 1 {
		t.Fatalf("want exit code 1\n%s", res)
	}
	for _, w := range row.want(c) {
		if !strings.Contains(res.Stderr, w) {
			t.Errorf("the error does not name %q\n%s", w, res)
		}
	}
	for _, u := range row.unwanted {
		if strings.Contains(res.Output(), u) {
			t.Errorf("the output shows %q\n%s", u, res)
		}
	}
	t.Logf("%s", res.Stderr)
	after := treeState(t, c.target.DataDir)
	if row.repair == nil {
		if diff := before.diff(after); len(diff) > 0 {
			t.Fatalf("the failed run changed the target:\n%s", strings.Join(diff, "\n"))
		}
		return
	}
	const control = "global/pg_control"
	// pg_control is fenced until the rerun (engine/markerfence.go): its
	// backup is the target's own, and it is that backup inverted.
	if after[engine.ControlBackupPath].hash != before[control].hash {
		t.Fatalf("the failed run's %s is not the target's own %s", engine.ControlBackupPath, control)
	}
	assertControlFenced(t, c.target.DataDir)
	row.repair(c)
	if res := c.runTool(row.stage); res.ExitCode != 0 {
		t.Fatalf("the rerun after the repair should succeed\n%s", res)
	}
	dir := c.target.DataDir
	for _, kept := range []string{filepath.Join(dir, engine.ControlBackupPath), engine.MarkerPath(dir), engine.ScanRecordPath(dir)} {
		if _, err := os.Lstat(kept); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the finished rerun (%v)", kept, err)
		}
	}
	c.startAsStandby()
}

// runTool runs the rewind, or the WAL staging, on the row's target.
func (c *badCase) runTool(stage bool) rewindtest.Result {
	c.t.Helper()
	var res rewindtest.Result
	var err error
	if stage {
		res, err = c.p.pgrunbook.Run(c.p.s.Ctx, "wal-stage", "-D", c.target.DataDir, "--source-server", c.source,
			"--archive-dir", c.archive)
	} else {
		res, err = c.p.ours.Run(c.p.s.Ctx, "--no-sync", "-D", c.target.DataDir, "--source-server", c.source)
	}
	must(c.t, err)
	return res
}

// copyTarget copies the stopped old primary into parent/target/data as a
// cluster of its own (its own port and socket once started), destroyed
// with the test.
func (p *badInputPair) copyTarget(t *testing.T, parent string) *pgcluster.Cluster {
	t.Helper()
	dir := filepath.Join(parent, "target")
	must(t, os.Mkdir(dir, 0o700))
	must(t, pgcluster.HandOver(dir))
	copyTree(t, p.s.Primary.DataDir, filepath.Join(dir, "data"))
	sock, err := os.MkdirTemp("", "badinput")
	must(t, err)
	must(t, pgcluster.HandOver(sock))
	port, err := pgcluster.FreePort()
	must(t, err)
	c := &pgcluster.Cluster{
		Name: "old_primary_copy", Dir: dir, DataDir: filepath.Join(dir, "data"), SocketDir: sock, Port: port,
		ListenAddresses: "127.0.0.1", LogFile: filepath.Join(dir, "postgres.log"), BinDir: pgcluster.DefaultBinDir,
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy the copy of the old primary: %v", err)
		}
		os.RemoveAll(sock)
	})
	return c
}

// identity appends the copy's own port, socket directory and name to its
// configuration, plus extra lines, so that it can start beside the others.
func (c *badCase) identity(extra ...string) {
	c.t.Helper()
	lines := []string{
		fmt.Sprintf("port = %d", c.target.Port),
		"unix_socket_directories = " + pgcluster.QuoteConf(c.target.SocketDir),
		"listen_addresses = ''",
		"cluster_name = " + pgcluster.QuoteConf(c.target.Name),
		"archive_mode = off",
	}
	must(c.t, c.target.AppendConf(append(lines, extra...)...))
}

// walDir is the target's pg_wal.
func (c *badCase) walDir() string { return filepath.Join(c.target.DataDir, "pg_wal") }

// walFile is a file of the target's pg_wal.
func (c *badCase) walFile(name string) string { return filepath.Join(c.walDir(), name) }

// overwrite writes n bytes of 0xA5 at off into path.
func (c *badCase) overwrite(path string, off int64, n int) {
	c.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(c.t, err)
	_, err = f.WriteAt([]byte(strings.Repeat("\xa5", n)), off)
	must(c.t, err)
	must(c.t, f.Close())
}

// archiveFirstSegment moves the segment of the last common checkpoint out
// of the target's pg_wal into the row's archive, as archiving and recycling
// would have, so that the staging must fetch it.
func (c *badCase) archiveFirstSegment() {
	c.t.Helper()
	c.archive = filepath.Join(c.dir, "archive")
	must(c.t, os.Mkdir(c.archive, 0o700))
	must(c.t, os.Rename(c.walFile(c.p.firstSeg), filepath.Join(c.archive, c.p.firstSeg)))
	must(c.t, pgcluster.HandOver(c.archive))
}

// setSource sets a reloadable setting of the new primary with ALTER SYSTEM
// (value "" resets it) and waits until new sessions see it.
func (c *badCase) setSource(name, value string) {
	c.t.Helper()
	s := c.p.s
	sql := "ALTER SYSTEM RESET " + name
	if value != "" {
		sql = "ALTER SYSTEM SET " + name + " = " + value
	}
	must(c.t, s.Standby.Exec(s.Ctx, "postgres", sql))
	must(c.t, s.Standby.Exec(s.Ctx, "postgres", "SELECT pg_reload_conf()"))
	want := value
	if want == "" {
		b, err := s.Standby.QueryValue(s.Ctx, "postgres", "SELECT boot_val FROM pg_settings WHERE name = '"+name+"'")
		must(c.t, err)
		want = b
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := s.Standby.QueryValue(s.Ctx, "postgres", "SHOW "+name)
		must(c.t, err)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s on the new primary is %s, want %s", name, v, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smallFileSystemSize is the size of the disk-full row's file system:
// room for the rewound target, not for much more.
const smallFileSystemSize = 128 << 20

// smallFileSystem mounts a small ext4 file system from an image file on a
// loop device (or, where no loop device exists, a tmpfs of the same size)
// in the row's directory, unmounted when the row ends, and returns the
// mount point, owned by postgres.
func (c *badCase) smallFileSystem() string {
	c.t.Helper()
	mnt := filepath.Join(c.dir, "small")
	must(c.t, os.Mkdir(mnt, 0o700))
	sh := func(name string, args ...string) {
		c.t.Helper()
		if out, err := exec.CommandContext(c.p.s.Ctx, name, args...).CombinedOutput(); err != nil {
			c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err == nil {
		img := filepath.Join(c.t.TempDir(), "small.img")
		sh("dd", "if=/dev/zero", "of="+img, "bs=1M", fmt.Sprintf("count=%d", smallFileSystemSize>>20), "status=none")
		// No blocks reserved for root: the rewind runs as postgres.
		sh("mkfs.ext4", "-q", "-m", "0", img)
		sh("mount", "-o", "loop", img, mnt)
		c.t.Logf("target on a %d MiB ext4 file system on a loop device", smallFileSystemSize>>20)
	} else {
		sh("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", smallFileSystemSize), "badinput", mnt)
		c.t.Logf("no loop devices: target on a %d MiB tmpfs", smallFileSystemSize>>20)
	}
	c.t.Cleanup(func() { unmount(c.t, mnt) })
	must(c.t, os.Chmod(mnt, 0o700))
	must(c.t, pgcluster.HandOver(mnt))
	return mnt
}

// fillHeadroom is the space left to the database user on the full file
// system: enough to start writing, far less than one WAL segment the
// rewind copies.
const fillHeadroom = 2 << 20

// fill fills the target's file system, as root, up to fillHeadroom bytes
// of what the database user may still use.
func (c *badCase) fill() {
	c.t.Helper()
	var st syscall.Statfs_t
	must(c.t, syscall.Statfs(c.target.Dir, &st))
	avail := int64(st.Bavail) * st.Bsize
	if avail <= fillHeadroom {
		c.t.Fatalf("the small file system has only %d bytes free after the copy", avail)
	}
	c.filler = filepath.Join(filepath.Dir(c.target.Dir), "filler")
	f, err := os.Create(c.filler)
	must(c.t, err)
	must(c.t, syscall.Fallocate(int(f.Fd()), 0, 0, avail-fillHeadroom))
	must(c.t, f.Close())
}

// startAsStandby puts the old primary's configuration back, makes the
// rewound copy a standby of the new primary, starts it and requires the
// new primary's data, including a row written after the start.
func (c *badCase) startAsStandby() {
	c.t.Helper()
	s := c.p.s
	copyFile(c.t, c.p.savedConf, c.target.ConfPath())
	c.identity()
	must(c.t, c.target.FollowNew(s.Ctx, s.Standby))
	must(c.t, c.target.Start(s.Ctx))
	s.StandbySQL("INSERT INTO t VALUES (-2, 'after the rewind')")
	must(c.t, s.Standby.WaitForCatchup(s.Ctx, c.target))
	rewindtest.CheckQuery(c.t, s.Ctx, c.target, "SELECT count(*), min(id), max(id) FROM t", "2002|-2|2000")
	rewindtest.CheckQuery(c.t, s.Ctx, c.target, "SELECT count(*) FROM t WHERE d LIKE 'lost%'", "0")
	must(c.t, c.target.Stop(s.Ctx, pgcluster.StopFast))
}

// pathState is what a failed run must leave alone: a path's type and
// mode, a regular file's size and the SHA-256 of its content.
type pathState struct {
	mode fs.FileMode
	size int64
	hash string
	link string
}

// badTree maps paths relative to the data directory to their state.
type badTree map[string]pathState

// treeState records every path under root, without following symlinks.
func treeState(t *testing.T, root string) badTree {
	t.Helper()
	m := badTree{}
	err := filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		st := pathState{mode: info.Mode()}
		switch {
		case info.Mode().IsRegular():
			st.size = info.Size()
			if st.hash, err = fileHash(p); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			if st.link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		m[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return m
}

// fileHash is the hex SHA-256 of a file's content.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// diff lists, sorted, every path added, removed or changed from b to a.
func (b badTree) diff(a badTree) []string {
	var out []string
	for p, e := range b {
		switch l, ok := a[p]; {
		case !ok:
			out = append(out, "removed "+p)
		case l != e:
			out = append(out, fmt.Sprintf("changed %s: %v %d -> %v %d (content %s)", p, e.mode, e.size, l.mode, l.size,
				map[bool]string{true: "same", false: "differs"}[l.hash == e.hash]))
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, "added "+p)
		}
	}
	sort.Strings(out)
	return out
}

// unmount takes the small file system away. The kernel can call it busy
// for a moment after the rewind's processes have exited (a CI run saw
// "target is busy" once), so it retries for a few seconds, then detaches
// it lazily so the test's temporary directory can still be removed; only
// a mount that cannot be detached at all fails the test.
func unmount(t *testing.T, mnt string) {
	var out []byte
	var err error
	for range 25 {
		if out, err = exec.Command("umount", mnt).CombinedOutput(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("umount %s: %v (%s); detaching it lazily", mnt, err, strings.TrimSpace(string(out)))
	if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
		t.Errorf("umount -l %s: %v\n%s", mnt, err, out)
	}
}
