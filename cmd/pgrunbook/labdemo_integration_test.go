package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// TestLabDemo runs `pgrunbook lab demo` into a buffer: the drill and the
// rejoin stream their steps, the report says where the servers diverged,
// what was staged and rewound, how long each step took and what verify
// checked, and the lab is down afterwards.
func TestLabDemo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (network namespaces, sshd): run as root (CI does)")
	}
	t.Parallel()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	opts := labDemoOptions{
		labOptions:   labOptions{Name: "d" + hex.EncodeToString(b[:])[:7], StateDir: t.TempDir()},
		Playbooks:    "../../playbooks",
		EngineBinary: rejoinEngine(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runLabDemo(ctx, opts, &out); err != nil {
		t.Fatalf("lab demo: %v\n%s", err, out.String())
	}
	text := out.String()
	_, report, ok := strings.Cut(text, "REJOIN REPORT: pg1 is a standby of pg2\n")
	if !ok {
		t.Fatalf("no report in:\n%s", text)
	}
	for _, want := range []string{
		// Both runs streamed their steps.
		`(?m)^PLAY \[failover drill \(split brain\)\]`,
		`(?m)^pg1 \| changed: promote the new primary`,
		`(?m)^PLAY \[rejoin the old primary as a standby\]`,
		`(?m)^pg1 \| changed: rewind to the new primary's timeline`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output lacks %s:\n%s", want, text)
		}
	}
	for _, want := range []string{
		`(?m)^  divergence +[0-9A-F]+/[0-9A-F]+ on timeline 1; pg2 continues on timeline 2$`,
		`(?m)^  last common checkpoint +[0-9A-F]+/[0-9A-F]+ \(redo [0-9A-F]+/[0-9A-F]+\) on timeline 1$`,
		`(?m)^  WAL segments staged +\d+ from the archive \(\d+ bytes\).*; \d+ already in pg_wal$`,
		`(?m)^  rewound +[1-9]\d* bytes fetched from pg2 in \d+ ms$`,
		`(?m)^  transfer +compressed stream, [1-9]\d* bytes sent$`,
		`(?m)^    COPY +[1-9]\d* files, \d+ bytes$`,
		`(?m)^  thrown away +([9]|[1-9]\d+) commits, [1-9]\d* bytes of WAL, [1-9]\d* relations written on pg1 after the divergence$`,
		`(?m)^    stop the old primary cleanly +ok +\d`,
		`(?m)^    rewind to the new primary's timeline +changed +\d`,
		`(?m)^    start as a standby +changed +\d`,
		`(?m)^    verify the rejoin +ok +\d`,
		`(?m)^    ok +WAL receiver streaming from the primary`,
		`(?m)^    ok +.*t2`,
	} {
		if !regexp.MustCompile(want).MatchString(report) {
			t.Errorf("report lacks %s:\n%s", want, report)
		}
	}
	if strings.Contains(report, "FAIL") {
		t.Errorf("a verify check failed:\n%s", report)
	}
	if !strings.HasSuffix(text, "lab "+opts.Name+" is down\n") {
		t.Errorf("the demo did not say the lab is down:\n%s", text)
	}
	if _, err := testenv.Open(ctx, opts.Name, opts.StateDir); !errors.Is(err, testenv.ErrNoLab) {
		t.Errorf("lab %s after the demo: %v, want it gone", opts.Name, err)
	}
}
