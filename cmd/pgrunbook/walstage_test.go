package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
)

func TestWALStageUsage(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"no source", []string{"-D", "/d", "--archive-dir", "/a"}, 2, "no source specified"},
		{"no archive", []string{"-D", "/d", "--source-pgdata", "/s"}, 2, "no WAL archive specified"},
		{"both archives", []string{"-D", "/d", "--source-pgdata", "/s", "--archive-dir", "/a", "--restore-command", "cp"}, 2, "only one of --archive-dir or --restore-command"},
		{"operand", []string{"-D", "/d", "extra"}, -1, "unknown command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newWALStageCmd()
			cmd.SetArgs(tt.args)
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %v; want one containing %q", err, tt.wantMsg)
			}
			var ee *exitError
			if tt.wantCode >= 0 && (!errors.As(err, &ee) || ee.code != tt.wantCode) {
				t.Errorf("error %v; want exit code %d", err, tt.wantCode)
			}
		})
	}
}

// TestWALStageRefusesRoot: staged files must belong to the PostgreSQL OS
// user, so the command refuses to run as root.
func TestWALStageRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root; the refusal cannot be seen")
	}
	o := walStageOptions{stage: engine.StageOptions{TargetDir: "/d", SourceDir: "/s", ArchiveDir: "/a"}}
	var out bytes.Buffer
	err := runWALStage(context.Background(), o, &out, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), `cannot be executed by "root"`) {
		t.Fatalf("error %v; want exit 1 refusing root", err)
	}
}

func TestStageSummary(t *testing.T) {
	div := &engine.Divergence{LSN: "0/4002E80", Timeline: 1}
	for _, tt := range []struct {
		rep  engine.StageReport
		want string
	}{
		{engine.StageReport{}, "no rewind required"},
		{engine.StageReport{Divergence: div, RewindNeeded: true, CheckOnly: true}, "servers diverged at 0/4002E80 on timeline 1; rewind required"},
		{engine.StageReport{Divergence: div, RewindNeeded: true, DryRun: true, Staged: []engine.StagedFile{{Name: "x", Bytes: 16}}, BytesStaged: 16, Present: []string{"y"}},
			"servers diverged at 0/4002E80 on timeline 1; would stage 1 files (16 bytes), 1 already in pg_wal"},
	} {
		if got := stageSummary(&tt.rep); got != tt.want {
			t.Errorf("stageSummary = %q; want %q", got, tt.want)
		}
	}
}
