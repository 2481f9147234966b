package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

func TestCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("copy tests stage files for the postgres user and need root; skipping")
	}
	// The staging directory is made with mktemp in $TMPDIR; point it at a
	// directory of our own to check that nothing is left behind.
	staging := postgresDir(t)
	t.Setenv("TMPDIR", staging)
	t.Cleanup(func() {
		if left, _ := os.ReadDir(staging); len(left) != 0 {
			t.Errorf("staging left behind: %v", left)
		}
	})

	src := filepath.Join(t.TempDir(), "src")
	text := "local   all   postgres   peer\n"
	mustWrite(t, src, text, 0o644)
	binSrc := filepath.Join(t.TempDir(), "bin")
	bin := string([]byte{0, 1, 2, 0xff, 0xfe})
	mustWrite(t, binSrc, bin, 0o755)
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	dest := func(d string) string { return filepath.Join(d, "pg_hba.conf") }

	runCases(t, []stepCase{
		{
			name:    "new file",
			action:  func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d), Mode: modePtr(0o640)} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: dest(d), Before: "", After: text}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, dest(d)); got != text {
					t.Errorf("dest holds %q", got)
				}
				assertMode(t, dest(d), 0o640)
			},
		},
		{
			name:    "different content",
			setup:   func(t *testing.T, d string) { mustWrite(t, dest(d), "old\n", 0o600) },
			action:  func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d)} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: dest(d), Before: "old\n", After: text}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, dest(d)); got != text {
					t.Errorf("dest holds %q", got)
				}
				assertMode(t, dest(d), 0o600)
			},
		},
		{
			name:    "same content, only the mode differs",
			setup:   func(t *testing.T, d string) { mustWrite(t, dest(d), text, 0o644) },
			action:  func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d), Mode: modePtr(0o600)} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: dest(d), Before: "mode 0644\n", After: "mode 0600\n"}}
			},
			verify: func(t *testing.T, d string) { assertMode(t, dest(d), 0o600) },
		},
		{
			name:   "same content and mode",
			setup:  func(t *testing.T, d string) { mustWrite(t, dest(d), text, 0o600) },
			action: func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d), Mode: modePtr(0o600)} },
		},
		{
			name:    "binary content",
			setup:   func(t *testing.T, d string) { mustWrite(t, dest(d), "text\n", 0o755) },
			action:  func(d string) runbook.Action { return &Copy{Src: binSrc, Dest: dest(d)} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: dest(d), Before: "sha256 " + sum("text\n") + "\n", After: "sha256 " + sum(bin) + " (binary content differs)\n"}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, dest(d)); got != bin {
					t.Errorf("dest holds %q", got)
				}
				assertMode(t, dest(d), 0o755)
			},
		},
		{
			name:    "become postgres owns the new file",
			become:  true,
			action:  func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d)} },
			changed: true,
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, dest(d)); got != text {
					t.Errorf("dest holds %q", got)
				}
				if o := fileOwner(t, dest(d)); o != "postgres" {
					t.Errorf("owner %s; want postgres", o)
				}
				assertMode(t, dest(d), 0o600)
			},
		},
		{
			name:    "dest is a directory",
			setup:   func(t *testing.T, d string) { os.Mkdir(dest(d), 0o755) },
			action:  func(d string) runbook.Action { return &Copy{Src: src, Dest: dest(d)} },
			wantErr: "is a directory, not a file",
		},
		{
			name:    "missing source",
			action:  func(d string) runbook.Action { return &Copy{Src: src + ".missing", Dest: dest(d)} },
			wantErr: "read source",
		},
	})
}
