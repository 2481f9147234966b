package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestStallWatch drives the watch by hand: lines keep it quiet, silence
// for the limit cancels the context, and the error names the work, the
// limit and the last progress.
func TestStallWatch(t *testing.T) {
	t.Parallel()
	copying := &runbook.Progress{Phase: "copying", Done: 100, Total: 400, Unit: "bytes"}
	cases := []struct {
		name string
		// beats are signs of life, one every 20ms; nil entries are output
		// lines.
		beats       []*runbook.Progress
		limit       time.Duration
		wantStalled bool
		wantErr     string
	}{
		{name: "silent from the start", limit: 50 * time.Millisecond, wantStalled: true,
			wantErr: "rewind stalled: no progress for 50ms before its first progress report; the process was stopped"},
		{name: "silent after copying began", beats: []*runbook.Progress{copying}, limit: 50 * time.Millisecond, wantStalled: true,
			wantErr: "rewind stalled: no progress for 50ms at phase copying (100 of 400 bytes); the process was stopped and the node keeps its interrupted state"},
		{name: "output lines keep it alive", beats: []*runbook.Progress{nil, copying, nil, nil, nil, nil, nil}, limit: 80 * time.Millisecond},
		{name: "no limit watches nothing", limit: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, w := watchStall(context.Background(), tc.limit, "rewind")
			defer w.stop()
			for _, b := range tc.beats {
				w.alive(b)
				time.Sleep(20 * time.Millisecond)
			}
			if tc.wantStalled {
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("the watch did not cancel a silent run")
				}
				err := w.err()
				if !errors.Is(err, errStalled) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want %q", err, tc.wantErr)
				}
				return
			}
			if ctx.Err() != nil || w.err() != nil {
				t.Fatalf("the watch fired on a live run: %v", w.err())
			}
		})
	}
}

// TestStallSubject names pgrunbook's subcommand or another program.
func TestStallSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/var/lib/pgrunbook/pgrunbook-ab12", "rewind", "--target-pgdata=/d"}, "rewind"},
		{[]string{"/var/lib/pgrunbook/pgrunbook-ab12", "wal-stage", "--check-only"}, "wal-stage"},
		{[]string{"/usr/lib/postgresql/15/bin/pg_rewind", "--target-pgdata=/d", "-P"}, "pg_rewind"},
	} {
		if got := stallSubject(tc.argv); got != tc.want {
			t.Errorf("stallSubject(%q) = %q; want %q", tc.argv, got, tc.want)
		}
	}
}
