package steps

import (
	"strings"
	"testing"
	"time"
)

// TestFenceValidate refuses a fence without its subjects.
func TestFenceValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    Fence
		want string
	}{
		{Fence{SourceServer: "host=a"}, "pgdata is required"},
		{Fence{PGData: "/d"}, "source_server is required"},
		{Fence{PGData: "/d", SourceServer: "host=a", Timeout: Duration(-time.Second)}, "timeout -1s must not be negative"},
		{Fence{PGData: "/d", SourceServer: "host=a", ArchiveDir: "/a", RestoreCommand: "cp /a/%f %p"}, "archive_dir and restore_command exclude each other"},
		{Fence{PGData: "/d", SourceServer: "host=a", OldPrimary: "host=b", ArchiveDir: "/a"}, ""},
	} {
		err := tc.f.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v; want %q", tc.f, err, tc.want)
		}
	}
}

// TestFenceSummary words each verdict of the need-check.
func TestFenceSummary(t *testing.T) {
	t.Parallel()
	src := &serverInfo{Subject: "10.77.0.12 port 5432", Timeline: 2, History: []uint32{1, 2}}
	diverged := map[string]any{"divergence": map[string]any{"lsn": "0/3000060", "timeline": float64(1)}, "target_end": "0/3001000"}
	for _, tc := range []struct {
		name   string
		tgtTLI uint32
		needed bool
		rep    map[string]any
		want   string
	}{
		{"diverged", 1, true, diverged,
			"fenced: old primary stopped, new primary 10.77.0.12 port 5432 is a primary on timeline 2 of the same system; " +
				"rewind needed: servers diverged at 0/3000060 on timeline 1; the old primary's WAL ends at 0/3001000"},
		{"behind", 1, false, map[string]any{"divergence": map[string]any{"lsn": "0/3000060", "timeline": float64(1)}, "target_end": "0/3000060"},
			"no rewind needed: the old primary (timeline 1) is behind on the new primary's history and can follow it " +
				"(servers diverged at 0/3000060 on timeline 1; the old primary's WAL ends at 0/3000060)"},
		{"same timeline", 2, false, map[string]any{},
			"no rewind needed: same timeline 2 and the old primary wrote nothing the new one lacks"},
	} {
		if got := fenceSummary("old primary stopped", src, tc.tgtTLI, tc.needed, tc.rep); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q\nwant it to contain %q", tc.name, got, tc.want)
		}
	}
}

// TestServerHistory reads the timelines a fence compares.
func TestServerHistory(t *testing.T) {
	t.Parallel()
	s := &serverInfo{History: []uint32{1, 3, 4}}
	if !s.hasTimeline(3) || s.hasTimeline(2) || s.historyText() != "timelines 1, 3, 4" {
		t.Errorf("history %v: has 3 %v, has 2 %v, text %q", s.History, s.hasTimeline(3), s.hasTimeline(2), s.historyText())
	}
	if got := serverSubject("host=10.77.0.12 port=5433 user=rewind password=secret"); got != "10.77.0.12 port 5433" || strings.Contains(got, "secret") {
		t.Errorf("serverSubject = %q", got)
	}
}
