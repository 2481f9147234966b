package rewindtest

import (
	"regexp"
	"testing"
)

// TestOptions is upstream's 006_options: help, version and command-line
// mistakes, checked for exit codes and the message fragments scripts match.
// No cluster is needed: every mistake is caught before any directory is
// read.
func TestOptions(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ctx := testContext(t)
	r := RewinderFromEnv()
	target, source := t.TempDir(), t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // regexp; "" means stdout must be empty
		wantStderr string // regexp; "" means stderr must be empty
	}{
		// Help and version must go to stdout, alone; their wording is
		// free, beyond naming the flags and the program.
		{"help", []string{"--help"}, 0, `(?s)Usage:.*--target-pgdata.*--source-pgdata.*--source-server`, ""},
		{"help short", []string{"-?"}, 0, `Usage:`, ""},
		{"version", []string{"--version"}, 0, `^pg_rewind\b.*\d`, ""},
		{"version short", []string{"-V"}, 0, `^pg_rewind\b.*\d`, ""},
		{"invalid option", []string{"--not-a-valid-option"}, 1, "", `(?:unrecognized|illegal|invalid) option`},
		{"too many arguments",
			[]string{"--debug", "--target-pgdata", target, "--source-pgdata", source, "extra_arg1"}, 1, "",
			`too many command-line arguments \(first is "extra_arg1"\)`},
		{"no source", []string{"--target-pgdata", target}, 1, "",
			`no source specified \(--source-pgdata or --source-server\)`},
		{"no target", []string{"--source-pgdata", source}, 1, "",
			`no target data directory specified \(--target-pgdata\)`},
		{"both sources",
			[]string{"--debug", "--target-pgdata", target, "--source-pgdata", source, "--source-server", "incorrect_source"}, 1, "",
			`only one of --source-pgdata or --source-server can be specified`},
		{"write recovery conf with a local source",
			[]string{"--debug", "--target-pgdata", target, "--source-pgdata", source, "--write-recovery-conf"}, 1, "",
			`no source server information \(--source-server\) specified for --write-recovery-conf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(ctx, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tt.wantCode {
				t.Fatalf("exit code %d, want %d\n%s", res.ExitCode, tt.wantCode, res)
			}
			matchOrEmpty(t, "stdout", res.Stdout, tt.wantStdout, res)
			matchOrEmpty(t, "stderr", res.Stderr, tt.wantStderr, res)
		})
	}
}

// matchOrEmpty checks a stream against a pattern, or that it is empty when
// the pattern is.
func matchOrEmpty(t *testing.T, stream, got, pattern string, res Result) {
	t.Helper()
	if pattern == "" {
		if got != "" {
			t.Fatalf("%s should be empty\n%s", stream, res)
		}
		return
	}
	if !regexp.MustCompile(pattern).MatchString(got) {
		t.Fatalf("%s does not match %q\n%s", stream, pattern, res)
	}
}
