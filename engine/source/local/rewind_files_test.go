package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

const (
	walKept    = "pg_wal/000000010000000000000002"
	walRemoved = "pg_wal/000000010000000000000003"
	quoted     = "tst_standby_dir/standby_file3 with 'quotes'"
)

func block(fill byte) string { return strings.Repeat(string(fill), 8192) }

func writeTree(t *testing.T, root string, files map[string]string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filemap.WalkDir(context.Background(), root, func(f filemap.File) error {
		switch f.Type {
		case filemap.TypeRegular:
			b, err := os.ReadFile(filepath.Join(root, f.Path))
			if err != nil {
				return err
			}
			out[f.Path] = string(b)
		default:
			out[f.Path] = f.Type.String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rewindFiles runs the file part of a rewind from a local source: both
// listings, the changed blocks, the decisions, the immediate actions and
// the fetch.
func rewindFiles(t *testing.T, srcDir, tgtDir string, opts target.Options, debug *[]string) error {
	ctx := context.Background()
	src, err := Open(srcDir)
	if err != nil {
		return err
	}
	w, err := target.Open(tgtDir, opts)
	if err != nil {
		return err
	}
	defer w.Close()
	m := filemap.New(filemap.Config{Major: 15, CatVersion: 202209061,
		Debugf: func(f string, a ...any) { *debug = append(*debug, fmt.Sprintf(f, a...)) }})
	if err := src.List(ctx, m.AddSource); err != nil {
		return err
	}
	if err := w.List(ctx, m.AddTarget); err != nil {
		return err
	}
	m.KeepWAL(walKept)
	if err := m.AddBlock(filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 100}, filemap.ForkMain, 1); err != nil {
		return err
	}
	entries, err := m.Decide()
	if err != nil {
		return err
	}
	var dump bytes.Buffer
	if err := m.WriteDebug(&dump); err != nil {
		return err
	}
	*debug = append(*debug, strings.Split(strings.TrimSpace(dump.String()), "\n")...)
	for _, e := range entries {
		if e.Action == filemap.ActionRemove {
			continue
		}
		if err := w.Apply(e); err != nil {
			return err
		}
	}
	if err := src.Fetch(ctx, source.Plan(entries, 8192), w.Write); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Action == filemap.ActionRemove {
			if err := w.Apply(e); err != nil {
				return err
			}
		}
	}
	return w.Sync(ctx)
}

// TestRewindFiles is upstream's 003_extrafiles, plus relation truncation,
// a changed block, excluded files and kept WAL, on plain directories.
func TestRewindFiles(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry-run=%v", dryRun), func(t *testing.T) {
			srcDir, tgtDir := t.TempDir(), t.TempDir()
			writeTree(t, srcDir, map[string]string{
				"PG_VERSION":                            "15\n",
				"global/pg_control":                     "source control",
				"postgresql.conf":                       "port = 5433\n",
				"base/5/100":                            block('a') + block('S') + block('c'),
				"base/5/100_fsm":                        "fsm source",
				"tst_both_dir/both_file1":               "both1",
				"tst_both_dir/both_subdir/both_file3":   "both3",
				"tst_standby_dir/standby_file1":         "s1",
				quoted:                                  "s3",
				"tst_standby_dir/standby_subdir/file4":  "s4",
				"tst_standby_dir/.DS_Store":             "finder",
				"pg_wal/000000010000000000000001":       "wal source",
				"pg_wal/000000020000000000000002":       "wal new timeline",
				"pg_wal/00000002.history":               "1\t0/3000000\tno recovery target specified\n",
				"pg_replslot/.keep_dir_listed_anyway/x": "", // excluded contents
			}, "pg_replslot")
			writeTree(t, tgtDir, map[string]string{
				"PG_VERSION":                           "15 target\n",
				"global/pg_control":                    "target control",
				"postgresql.conf":                      "port = 5432 # a longer old line\n",
				"base/5/100":                           block('a') + block('T') + block('c') + block('d') + block('e'),
				"base/5/100_fsm":                       "fsm target, longer",
				"tst_both_dir/both_file1":              "both1",
				"tst_both_dir/both_subdir/both_file3":  "both3",
				"tst_primary_dir/primary_file1":        "p1",
				"tst_primary_dir/primary_subdir/file3": "p3",
				"postmaster.pid":                       "1234",
				"backup_label":                         "stale",
				"pg_replslot/slot1/state":              "slot",
				"pg_wal/000000010000000000000001":      "wal target diverged",
				walKept:                                "needed for recovery",
				walRemoved:                             "not needed",
			})
			before := treeOf(t, tgtDir)
			var debug []string
			if err := rewindFiles(t, srcDir, tgtDir, target.Options{DryRun: dryRun}, &debug); err != nil {
				t.Fatal(err)
			}
			got := treeOf(t, tgtDir)
			if dryRun {
				if fmt.Sprint(got) != fmt.Sprint(before) {
					t.Fatalf("dry run changed the target:\n%v", got)
				}
				return
			}
			want := map[string]string{
				"PG_VERSION":                           "15 target\n",
				"global":                               "directory",
				"global/pg_control":                    "target control",
				"postgresql.conf":                      "port = 5433\n",
				"base":                                 "directory",
				"base/5":                               "directory",
				"base/5/100":                           block('a') + block('S') + block('c'),
				"base/5/100_fsm":                       "fsm source",
				"tst_both_dir":                         "directory",
				"tst_both_dir/both_file1":              "both1",
				"tst_both_dir/both_subdir":             "directory",
				"tst_both_dir/both_subdir/both_file3":  "both3",
				"tst_standby_dir":                      "directory",
				"tst_standby_dir/standby_file1":        "s1",
				quoted:                                 "s3",
				"tst_standby_dir/standby_subdir":       "directory",
				"tst_standby_dir/standby_subdir/file4": "s4",
				"pg_replslot":                          "directory",
				"pg_wal":                               "directory",
				"pg_wal/000000010000000000000001":      "wal source",
				"pg_wal/000000020000000000000002":      "wal new timeline",
				"pg_wal/00000002.history":              "1\t0/3000000\tno recovery target specified\n",
				walKept:                                "needed for recovery",
			}
			var diffs []string
			for p, w := range want {
				if got[p] != w {
					diffs = append(diffs, fmt.Sprintf("%s: got %.40q, want %.40q", p, got[p], w))
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					diffs = append(diffs, "unexpected "+p)
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 0 {
				t.Fatalf("target after rewind:\n%s", strings.Join(diffs, "\n"))
			}
			joined := strings.Join(debug, "\n")
			for _, line := range []string{
				`Not removing file "` + walKept + `" because it is required for recovery`,
				"base/5/100 (TRUNCATE)\nblock 1",
				quoted + " (COPY)",
				"tst_primary_dir (REMOVE)",
				walRemoved + " (REMOVE)",
			} {
				if !strings.Contains(joined, line) {
					t.Errorf("debug output lacks %q:\n%s", line, joined)
				}
			}
			if strings.Contains(joined, ".DS_Store (") {
				t.Errorf(".DS_Store in the map dump:\n%s", joined)
			}
		})
	}
}

// TestGrowingFile is upstream's 009_growing_files: a source file that grows
// after the listing fails the rewind with pg_rewind's message.
func TestGrowingFile(t *testing.T) {
	srcDir, tgtDir := t.TempDir(), t.TempDir()
	writeTree(t, srcDir, map[string]string{"tst_both_dir/file1": "line 1\n"})
	writeTree(t, tgtDir, map[string]string{}, "tst_both_dir")
	src, err := Open(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := target.Open(tgtDir, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m := filemap.New(filemap.Config{Major: 15, CatVersion: 202209061})
	ctx := context.Background()
	if err := src.List(ctx, m.AddSource); err != nil {
		t.Fatal(err)
	}
	if err := w.List(ctx, m.AddTarget); err != nil {
		t.Fatal(err)
	}
	entries, err := m.Decide()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(srcDir, "tst_both_dir/file1"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("line 2, written during the rewind\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = src.Fetch(ctx, source.Plan(entries, 8192), w.Write)
	want := fmt.Sprintf(`size of source file "%s" changed concurrently: 7 bytes expected, 41 copied`, filepath.Join(srcDir, "tst_both_dir/file1"))
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}
