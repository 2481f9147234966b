package rewindtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestGrowingFiles is upstream's 009_growing_files: a local source file
// that grows while it is copied (the tool's own stderr is appended to it)
// must make the tool fail rather than write a torn copy.
func TestGrowingFiles(t *testing.T) {
	t.Parallel()
	s := NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE tbl1 (d text)")
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary')")
	s.PrimarySQL("CHECKPOINT")
	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, before promotion')")
	s.PrimarySQL("CHECKPOINT")
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, after promotion')")
	s.StandbySQL("INSERT INTO tbl1 VALUES ('in standby, after promotion')")
	s.must(s.Standby.Stop(s.Ctx, pgcluster.StopFast))
	s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))

	s.must(s.Standby.WriteFile("tst_both_dir/file1", []byte("a"), 0o600))
	sourceFile := filepath.Join(s.Standby.DataDir, "tst_both_dir/file1")
	targetFile := filepath.Join(s.Primary.DataDir, "tst_both_dir/file1")

	grow, err := os.OpenFile(sourceFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer grow.Close()
	cmd, err := s.Rewinder.Command(s.Ctx, "--debug",
		"--source-pgdata", s.Standby.DataDir, "--target-pgdata", s.Primary.DataDir, "--no-sync")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = grow
	if err := cmd.Run(); err == nil {
		t.Fatal("rewind copying a growing file succeeded; want a failure")
	} else if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() <= 0 {
		t.Fatalf("rewind did not run to a failing exit: %v", err)
	}

	src, err := os.Stat(sourceFile)
	if err != nil {
		t.Fatal(err)
	}
	// The target copy may be missing or short; either way it differs.
	var targetSize int64 = -1
	if dst, err := os.Stat(targetFile); err == nil {
		targetSize = dst.Size()
	}
	if src.Size() == targetSize {
		t.Fatalf("source and target copies of the growing file have the same size %d", src.Size())
	}
	content, err := os.ReadFile(sourceFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(content), "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`error: size of source file`).MatchString(last) {
		t.Fatalf("last line of the tool's output is %q, want the size-of-source-file error", last)
	}
}
