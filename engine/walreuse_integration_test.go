package engine_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestWALReuse rewinds an old primary that wrote several WAL segments
// after the failover from a stopped new primary that did too. The
// target's surplus segment files must be recycled as the source's new
// ones (the same inodes under the new names), a segment both had must be
// overwritten in place (same inode), every segment the target ends with
// that the source has must hold exactly the source's bytes, and the node
// must then follow the new primary with its data.
func TestWALReuse(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int primary key, d text)")
	s.PrimarySQL("INSERT INTO t SELECT g, 'common' FROM generate_series(1, 5000) g")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	for i := range 4 {
		s.PrimarySQL(fmt.Sprintf("UPDATE t SET d = 'old primary %d' WHERE id %% 5 = %d", i, i))
		s.PrimarySQL("SELECT pg_switch_wal()")
		s.StandbySQL(fmt.Sprintf("UPDATE t SET d = 'new primary %d' WHERE id %% 7 = %d", i, i))
		s.StandbySQL("SELECT pg_switch_wal()")
	}
	s.StandbySQL("CHECKPOINT")
	must(t, s.Primary.Stop(ctx, pgcluster.StopFast))
	must(t, s.Standby.Stop(ctx, pgcluster.StopFast))

	before := map[uint64]string{}
	for _, name := range walSegments(t, s.Primary.DataDir) {
		before[inode(t, filepath.Join(s.Primary.DataDir, "pg_wal", name))] = name
	}
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	res := run(t, s, ours, "--debug", "--no-sync", "--target-pgdata", s.Primary.DataDir, "--config-file", savedConf,
		"--source-pgdata", s.Standby.DataDir)

	m := regexp.MustCompile(`recycled (\d+) target WAL segment files`).FindStringSubmatch(res.Stderr)
	if m == nil {
		t.Fatalf("--debug does not say it recycled target WAL segments\n%s", res)
	}
	recycled, _ := strconv.Atoi(m[1])
	var renamed, inPlace int
	for _, name := range walSegments(t, s.Primary.DataDir) {
		path := filepath.Join(s.Primary.DataDir, "pg_wal", name)
		if was, ok := before[inode(t, path)]; ok {
			if was == name {
				inPlace++
			} else {
				renamed++
			}
		}
		src, err := os.ReadFile(filepath.Join(s.Standby.DataDir, "pg_wal", name))
		if os.IsNotExist(err) {
			continue
		}
		must(t, err)
		got, err := os.ReadFile(path)
		must(t, err)
		if !bytes.Equal(got, src) {
			t.Errorf("target WAL segment %s differs from the source's", name)
		}
	}
	t.Logf("recycled %d, renamed files found %d, overwritten in place %d", recycled, renamed, inPlace)
	if recycled < 1 || renamed != recycled {
		t.Errorf("the engine says it recycled %d segment files, %d of the target's files now carry a new segment name", recycled, renamed)
	}
	if inPlace < 1 {
		t.Errorf("no segment both sides had was overwritten in place")
	}

	copyFile(t, savedConf, s.Primary.ConfPath())
	must(t, s.Standby.Start(ctx))
	must(t, s.Primary.FollowNew(ctx, s.Standby))
	must(t, s.Primary.Start(ctx))
	s.StandbySQL("INSERT INTO t VALUES (-1, 'after the rewind')")
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT pg_is_in_recovery()", "t")
	q := "SELECT count(*), sum(hashtext(d)) FROM t"
	rewindtest.CheckQuery(t, ctx, s.Primary, q, strings.Join(mustRow(t, s, q), "|"))
}

// inode is the inode number of a file.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	must(t, err)
	return st.Sys().(*syscall.Stat_t).Ino
}
