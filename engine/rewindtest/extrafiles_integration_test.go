package rewindtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestExtraFiles is upstream's 003_extrafiles: files PostgreSQL knows
// nothing about follow the source too: a directory on both sides stays, the
// standby-only one (with a quoted file name) arrives, the primary-only one
// goes, and a .DS_Store is ignored.
func TestExtraFiles(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{Local, Remote} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testExtraFiles(t, mode)
		})
	}
}

func testExtraFiles(t *testing.T, mode Mode) {
	s := NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	write := func(c *pgcluster.Cluster, rel, content string) {
		t.Helper()
		s.must(c.WriteFile(rel, []byte(content), 0o600))
	}
	write(s.Primary, "tst_both_dir/both_file1", "in both1")
	write(s.Primary, "tst_both_dir/both_file2", "in both2")
	write(s.Primary, "tst_both_dir/both_subdir/both_file3", "in both3")

	s.CreateStandby(pgcluster.Options{})
	write(s.Standby, "tst_standby_dir/standby_file1", "in standby1")
	write(s.Standby, "tst_standby_dir/standby_file2", "in standby2")
	write(s.Standby, "tst_standby_dir/standby_file3 with 'quotes'", "in standby3")
	write(s.Standby, "tst_standby_dir/standby_subdir/standby_file4", "in standby4")
	write(s.Standby, "tst_standby_dir/.DS_Store", "macOS system file")

	write(s.Primary, "tst_primary_dir/primary_file1", "in primary1")
	write(s.Primary, "tst_primary_dir/primary_file2", "in primary2")
	write(s.Primary, "tst_primary_dir/primary_subdir/primary_file3", "in primary3")

	s.PromoteStandby()
	s.RunRewind(mode)

	var got []string
	err := filepath.Walk(s.Primary.DataDir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, "tst_") {
			got = append(got, strings.TrimPrefix(p, s.Primary.DataDir+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{
		"tst_both_dir",
		"tst_both_dir/both_file1",
		"tst_both_dir/both_file2",
		"tst_both_dir/both_subdir",
		"tst_both_dir/both_subdir/both_file3",
		"tst_standby_dir",
		"tst_standby_dir/standby_file1",
		"tst_standby_dir/standby_file2",
		"tst_standby_dir/standby_file3 with 'quotes'",
		"tst_standby_dir/standby_subdir",
		"tst_standby_dir/standby_subdir/standby_file4",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("extra files in the target after the rewind:\ngot  %q\nwant %q", got, want)
	}
}
