package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

func TestRename(t *testing.T) {
	rename := func(force bool) func(d string) runbook.Action {
		return func(d string) runbook.Action {
			return &Rename{Src: filepath.Join(d, "recovery.done"), Dest: filepath.Join(d, "recovery.conf"), Force: force}
		}
	}
	done := func(t *testing.T, d string) {
		mustWrite(t, filepath.Join(d, "recovery.done"), "standby_mode = on\n", 0o600)
	}
	conf := func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "recovery.conf"), "old\n", 0o600) }
	moved := func(t *testing.T, d string) {
		if got := mustRead(t, filepath.Join(d, "recovery.conf")); got != "standby_mode = on\n" {
			t.Errorf("recovery.conf holds %q", got)
		}
		if _, err := os.Lstat(filepath.Join(d, "recovery.done")); !os.IsNotExist(err) {
			t.Errorf("recovery.done still there: %v", err)
		}
	}
	runCases(t, []stepCase{
		{name: "renames", setup: done, action: rename(false), changed: true, verify: moved,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: filepath.Join(d, "recovery.done"), Before: "path " + filepath.Join(d, "recovery.done") + "\n", After: "path " + filepath.Join(d, "recovery.conf") + "\n"}}
			}},
		{name: "already done", setup: conf, action: rename(false)},
		{name: "both exist", setup: func(t *testing.T, d string) { done(t, d); conf(t, d) }, action: rename(false), wantErr: "both"},
		{name: "both exist with force", setup: func(t *testing.T, d string) { done(t, d); conf(t, d) }, action: rename(true), changed: true, verify: moved},
		{name: "become postgres", become: true, setup: func(t *testing.T, d string) {
			done(t, d)
			if err := os.Chown(filepath.Join(d, "recovery.done"), pgUID(t), -1); err != nil {
				t.Fatal(err)
			}
		}, action: rename(false), changed: true, verify: moved},
	})
}

// With neither path present a real run fails, but --check reports a plan:
// an earlier step of the playbook may create src.
func TestRenameNeitherExists(t *testing.T) {
	d := t.TempDir()
	r := &Rename{Src: filepath.Join(d, "recovery.done"), Dest: filepath.Join(d, "recovery.conf")}
	out, err := r.Run(context.Background(), target("", true, false))
	if err != nil || !out.Changed || !strings.Contains(out.Msg, "does not exist yet") {
		t.Fatalf("check run = %+v, %v; want a planned rename that says src is missing", out, err)
	}
	if _, err := r.Run(context.Background(), target("", false, false)); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("run error = %v, want one saying neither path exists", err)
	}
}
