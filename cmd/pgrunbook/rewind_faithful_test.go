package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRewindFaithfulFlag checks that --faithful (and its abbreviations)
// sets engine.Options.Faithful, that the default trims, and that the help
// names the flag.
func TestRewindFaithfulFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"-D", "/t", "--source-pgdata", "/s"}, false},
		{[]string{"-D", "/t", "--source-pgdata", "/s", "--faithful"}, true},
		{[]string{"--fa", "-D", "/t"}, true},
	} {
		c, err := parseRewindArgs(tt.args)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if c.opts.Faithful != tt.want {
			t.Fatalf("%q: Faithful = %v, want %v", tt.args, c.opts.Faithful, tt.want)
		}
	}
	if _, err := parseRewindArgs([]string{"--faithful=yes"}); err == nil || !strings.Contains(err.Error(), "doesn't allow an argument") {
		t.Fatalf("--faithful=yes: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := runRewindCLI(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--faithful") {
		t.Fatalf("help (exit %d) lacks --faithful:\n%s", code, stdout.String())
	}
}
