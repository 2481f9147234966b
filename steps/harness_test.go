package steps

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// stepCase is one table row for runCases: a step run on a fresh directory,
// first under Check and Diff, then for real, then again.
type stepCase struct {
	name string
	// become runs the step as postgres in a postgres-owned directory.
	become bool
	setup  func(t *testing.T, dir string)
	action func(dir string) runbook.Action
	// changed is what the first run (and the check run) must report.
	changed bool
	skipped bool
	// wantErr, when set, is a substring of the error every run must give.
	wantErr string
	// diffs, when set, are the exact diffs of the check run and real run.
	diffs func(dir string) []runbook.FileDiff
	// verify checks the directory after the real run.
	verify func(t *testing.T, dir string)
}

func runCases(t *testing.T, cases []stepCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir, become := t.TempDir(), ""
			if tc.become {
				dir, become = postgresDir(t), "postgres"
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			act := tc.action(dir)
			if v, ok := act.(runbook.Validator); ok && tc.wantErr == "" {
				if err := v.Validate(); err != nil {
					t.Fatalf("Validate: %v", err)
				}
			}

			before := snapshot(t, dir)
			out, err := act.Run(ctx, target(become, true, true))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("check run error = %v; want one containing %q", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("check run: %v", err)
				}
				if out.Changed != tc.changed || out.Skipped != tc.skipped {
					t.Errorf("check run: changed=%v skipped=%v; want %v %v (%s)", out.Changed, out.Skipped, tc.changed, tc.skipped, out.Msg)
				}
				checkDiffs(t, "check run", out.Diffs, tc, dir)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatalf("check run changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			out, err = act.Run(ctx, target(become, false, true))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("run error = %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if out.Changed != tc.changed || out.Skipped != tc.skipped {
				t.Errorf("run: changed=%v skipped=%v; want %v %v (%s)", out.Changed, out.Skipped, tc.changed, tc.skipped, out.Msg)
			}
			checkDiffs(t, "run", out.Diffs, tc, dir)
			if tc.verify != nil {
				tc.verify(t, dir)
			}
			assertNoTemp(t, dir)

			out, err = act.Run(ctx, target(become, false, false))
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if out.Changed {
				t.Errorf("second run reported changed (%s)", out.Msg)
			}
			if len(out.Diffs) != 0 {
				t.Errorf("second run without Diff returned diffs %+v", out.Diffs)
			}
		})
	}
}

func checkDiffs(t *testing.T, what string, got []runbook.FileDiff, tc stepCase, dir string) {
	t.Helper()
	if tc.diffs == nil {
		return
	}
	want := tc.diffs(dir)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s diffs:\n got %q\nwant %q", what, got, want)
	}
}

// assertNoTemp fails if a temporary file of writeScript was left behind.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	if strings.Contains(snapshot(t, dir), ".pgrunbook-tmp") {
		t.Errorf("temporary file left in %s", dir)
	}
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o; want %o", path, got, want)
	}
}

func modePtr(m Mode) *Mode { return &m }
