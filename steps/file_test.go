package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

func TestFile(t *testing.T) {
	runCases(t, []stepCase{
		{
			name:    "create file with mode",
			action:  func(d string) runbook.Action { return &File{Path: filepath.Join(d, "a"), Mode: modePtr(0o640)} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: filepath.Join(d, "a"), Before: "state absent\n", After: "state file\nmode 0640\n"}}
			},
			verify: func(t *testing.T, d string) {
				assertMode(t, filepath.Join(d, "a"), 0o640)
				if s := mustRead(t, filepath.Join(d, "a")); s != "" {
					t.Errorf("new file holds %q", s)
				}
			},
		},
		{
			name:  "fix mode of existing file, content kept",
			setup: func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "a"), "keep", 0o644) },
			action: func(d string) runbook.Action {
				return &File{Path: filepath.Join(d, "a"), State: "present", Mode: modePtr(0o600)}
			},
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: filepath.Join(d, "a"), Before: "mode 0644\n", After: "mode 0600\n"}}
			},
			verify: func(t *testing.T, d string) {
				assertMode(t, filepath.Join(d, "a"), 0o600)
				if s := mustRead(t, filepath.Join(d, "a")); s != "keep" {
					t.Errorf("content %q", s)
				}
			},
		},
		{
			name:  "file already as wanted",
			setup: func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "a"), "", 0o600) },
			action: func(d string) runbook.Action {
				return &File{Path: filepath.Join(d, "a"), Mode: modePtr(0o600), Owner: "root"}
			},
		},
		{
			name: "directory with parents",
			action: func(d string) runbook.Action {
				return &File{Path: filepath.Join(d, "x/y"), State: "directory", Mode: modePtr(0o750)}
			},
			changed: true,
			verify: func(t *testing.T, d string) {
				fi, err := os.Stat(filepath.Join(d, "x/y"))
				if err != nil || !fi.IsDir() {
					t.Fatalf("no directory: %v", err)
				}
				assertMode(t, filepath.Join(d, "x/y"), 0o750)
			},
		},
		{
			name:    "remove file",
			setup:   func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "a"), "x", 0o644) },
			action:  func(d string) runbook.Action { return &File{Path: filepath.Join(d, "a"), State: "absent"} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: filepath.Join(d, "a"), Before: "state file\n", After: "state absent\n"}}
			},
			verify: func(t *testing.T, d string) {
				if _, err := os.Lstat(filepath.Join(d, "a")); !os.IsNotExist(err) {
					t.Errorf("file still there: %v", err)
				}
			},
		},
		{
			name:   "absent already",
			action: func(d string) runbook.Action { return &File{Path: filepath.Join(d, "a"), State: "absent"} },
		},
		{
			name: "non-empty directory refused",
			setup: func(t *testing.T, d string) {
				os.Mkdir(filepath.Join(d, "x"), 0o755)
				mustWrite(t, filepath.Join(d, "x/f"), "x", 0o644)
			},
			action:  func(d string) runbook.Action { return &File{Path: filepath.Join(d, "x"), State: "absent"} },
			wantErr: "directory is not empty",
		},
		{
			name: "non-empty directory with recurse",
			setup: func(t *testing.T, d string) {
				os.Mkdir(filepath.Join(d, "x"), 0o755)
				mustWrite(t, filepath.Join(d, "x/f"), "x", 0o644)
			},
			action: func(d string) runbook.Action {
				return &File{Path: filepath.Join(d, "x"), State: "absent", Recurse: true}
			},
			changed: true,
			verify: func(t *testing.T, d string) {
				if _, err := os.Lstat(filepath.Join(d, "x")); !os.IsNotExist(err) {
					t.Errorf("directory still there: %v", err)
				}
			},
		},
		{
			name:    "present on a directory is an error",
			setup:   func(t *testing.T, d string) { os.Mkdir(filepath.Join(d, "x"), 0o755) },
			action:  func(d string) runbook.Action { return &File{Path: filepath.Join(d, "x")} },
			wantErr: "is a directory, not a file",
		},
		{
			name:    "become postgres creates a postgres-owned file",
			become:  true,
			action:  func(d string) runbook.Action { return &File{Path: filepath.Join(d, "pg"), Mode: modePtr(0o600)} },
			changed: true,
			verify: func(t *testing.T, d string) {
				if o := fileOwner(t, filepath.Join(d, "pg")); o != "postgres" {
					t.Errorf("owner %s; want postgres", o)
				}
			},
		},
	})
}

func TestFileValidate(t *testing.T) {
	for _, f := range []*File{{}, {Path: "/x", State: "link"}, {Path: "/x", State: "absent", Mode: modePtr(0o600)}} {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
}

// TestFileBecomeChownRefused checks that a failing chown is an error naming
// the path, not a silent success.
func TestFileBecomeChownRefused(t *testing.T) {
	d := postgresDir(t)
	p := filepath.Join(d, "x")
	_, err := (&File{Path: p, State: "directory", Owner: "root"}).Run(context.Background(), target("postgres", false, false))
	if err == nil || !strings.Contains(err.Error(), "file "+p+": ") {
		t.Fatalf("err = %v; want an error naming %s", err, p)
	}
}
