package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

func TestParseRewindArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want rewindCLI
	}{
		{"short with separate value", []string{"-D", "/t", "--source-pgdata", "/s"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", SourceDir: "/s"}}},
		{"short with attached value", []string{"-D/t", "--source-server=host=x port=5"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", SourceConninfo: "host=x port=5"}}},
		{"long with equals", []string{"--target-pgdata=/t", "--source-pgdata=/s", "--config-file=/c"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", SourceDir: "/s", ConfigFile: "/c"}}},
		{"stream flags", []string{"-D", "/t", "--source-stream", "10.77.0.2:7000", "--source-stream-token-file=/tok"},
			rewindCLI{streamTokenFile: "/tok", opts: engine.Options{TargetDir: "/t", SourceStream: "10.77.0.2:7000"}}},
		{"stream compression", []string{"-D", "/t", "--source-stream", "h:1", "--source-stream-compress", "never"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", SourceStream: "h:1", SourceStreamCompress: stream.CompressNever}}},
		{"bundled flags", []string{"-nNPRc", "-D", "/t"},
			rewindCLI{progress: true, opts: engine.Options{TargetDir: "/t", DryRun: true, NoSync: true, WriteRecoveryConf: true, RestoreTargetWAL: true}}},
		{"bundled flags ending in a value", []string{"-nD/t"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", DryRun: true}}},
		{"abbreviated long option", []string{"--target=/t", "--source-p", "/s", "--no-e"},
			rewindCLI{opts: engine.Options{TargetDir: "/t", SourceDir: "/s", NoEnsureShutdown: true}}},
		{"operands anywhere", []string{"x", "-D", "/t", "y"},
			rewindCLI{opts: engine.Options{TargetDir: "/t"}, positional: []string{"x", "y"}}},
		{"double dash ends options", []string{"-D", "/t", "--", "-n"},
			rewindCLI{opts: engine.Options{TargetDir: "/t"}, positional: []string{"-n"}}},
		{"ours", []string{"--jobs", "4", "--report=/r.json", "--progress-json", "--debug", "--pg-bin-dir", "/b"},
			rewindCLI{opts: engine.Options{Jobs: 4, BinDir: "/b"}, report: "/r.json", progressJSON: true, debug: true}},
		{"keep config and files", []string{"--keep-config", "--keep-file", "server.conf", "--keep-file=conf.d/x.conf"},
			rewindCLI{opts: engine.Options{KeepConfig: true, KeepFiles: []string{"server.conf", "conf.d/x.conf"}}}},
		{"help first", []string{"-?", "--bogus"}, rewindCLI{help: true}},
		{"version first", []string{"--version"}, rewindCLI{version: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRewindArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("parse %q:\ngot  %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// TestRewindCLIErrors checks the exit code and the exact stderr of the
// mistakes pg_rewind's own 006_options test and scripts look for.
func TestRewindCLIErrors(t *testing.T) {
	hint := "pg_rewind: hint: Try \"pg_rewind --help\" for more information.\n"
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown long", []string{"--bogus"}, "pg_rewind: unrecognized option '--bogus'\n" + hint},
		{"unknown short", []string{"-x"}, "pg_rewind: invalid option -- 'x'\n" + hint},
		{"-V not first", []string{"-D", "/t", "-V"}, "pg_rewind: invalid option -- 'V'\n" + hint},
		{"missing value", []string{"--target-pgdata"}, "pg_rewind: option '--target-pgdata' requires an argument\n" + hint},
		{"missing short value", []string{"-D"}, "pg_rewind: option requires an argument -- 'D'\n" + hint},
		{"value for a flag", []string{"--debug=1"}, "pg_rewind: option '--debug' doesn't allow an argument\n" + hint},
		{"ambiguous", []string{"--source=x"},
			"pg_rewind: option '--source' is ambiguous; possibilities: '--source-pgdata' '--source-server' '--source-stream' '--source-stream-compress' '--source-stream-token-file'\n" + hint},
		{"no source", []string{"-D", "/t"}, "pg_rewind: error: no source specified (--source-pgdata or --source-server)\n" + hint},
		{"both sources", []string{"-D", "/t", "--source-pgdata", "/s", "--source-server", "x"},
			"pg_rewind: error: only one of --source-pgdata or --source-server can be specified\n" + hint},
		{"no target", []string{"--source-pgdata", "/s"}, "pg_rewind: error: no target data directory specified (--target-pgdata)\n" + hint},
		{"-R with a local source", []string{"-D", "/t", "--source-pgdata", "/s", "-R"},
			"pg_rewind: error: no source server information (--source-server) specified for --write-recovery-conf\n" + hint},
		{"extra operand", []string{"-D", "/t", "--source-pgdata", "/s", "extra_arg1"},
			"pg_rewind: error: too many command-line arguments (first is \"extra_arg1\")\n" + hint},
		{"bad stream compression", []string{"--source-stream-compress", "fast"},
			"pg_rewind: error: invalid value \"fast\" for option --source-stream-compress: want auto, always or never\n" + hint},
		{"bad jobs", []string{"--jobs", "0"},
			"pg_rewind: error: invalid value \"0\" for option --jobs: want a whole number of at least 1\n" + hint},
		{"stream without a token file", []string{"-D", "/t", "--source-server", "x", "--source-stream", "h:1"},
			"pg_rewind: error: --source-stream needs the stream server's token (--source-stream-token-file)\n" + hint},
		{"stream without a server", []string{"-D", "/t", "--source-pgdata", "/s", "--source-stream", "h:1", "--source-stream-token-file", "/dev/null"},
			"pg_rewind: error: --source-stream needs --source-server: listings and pg_control still come over SQL\n" + hint},
		{"token file without a stream", []string{"-D", "/t", "--source-server", "x", "--source-stream-token-file", "/f"},
			"pg_rewind: error: --source-stream-token-file needs --source-stream\n" + hint},
		{"unreadable token file", []string{"-D", "/t", "--source-server", "x", "--source-stream", "h:1", "--source-stream-token-file", "/nonexistent/token"},
			"pg_rewind: error: read stream token file: open /nonexistent/token: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runRewindCLI(context.Background(), tt.args, &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout should be empty, got %q", stdout.String())
			}
			if stderr.String() != tt.wantStderr {
				t.Fatalf("stderr:\ngot  %q\nwant %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestRewindCLIHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-?"}, {"-V"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := runRewindCLI(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit code %d", args, code)
		}
		if stderr.Len() != 0 {
			t.Fatalf("%v: stderr %q", args, stderr.String())
		}
		out := stdout.String()
		switch args[0] {
		case "--help", "-?":
			for _, want := range []string{"pg_rewind resynchronizes ", "Usage:", "--source-server=CONNSTR", "--jobs=N", "--source-stream=HOST:PORT", "--source-stream-token-file=FILE", "Exit codes:"} {
				if !strings.Contains(out, want) {
					t.Fatalf("%v: help lacks %q", args, want)
				}
			}
		default:
			if !strings.HasPrefix(out, "pg_rewind (PostgreSQL) 15") {
				t.Fatalf("%v: version %q", args, out)
			}
		}
	}
}

func TestRewindCLIRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the root refusal can only be seen as root")
	}
	var stdout, stderr bytes.Buffer
	code := runRewindCLI(context.Background(), []string{"-D", "/t", "--source-pgdata", "/s"}, &stdout, &stderr)
	want := "pg_rewind: error: cannot be executed by \"root\"\npg_rewind: hint: You must run pg_rewind as the PostgreSQL superuser.\n"
	if code != 1 || stderr.String() != want {
		t.Fatalf("exit %d, stderr %q; want 1, %q", code, stderr.String(), want)
	}
}

func TestProgressPrinter(t *testing.T) {
	var stdout, stderr bytes.Buffer
	p := &progressPrinter{text: true, json: true, stdout: &stdout, stderr: &stderr}
	p.update(engine.Progress{Phase: engine.PhaseCopying, Total: 10 << 20, Unit: "bytes"})
	p.update(engine.Progress{Phase: engine.PhaseCopying, Done: 1 << 20, Total: 10 << 20, Unit: "bytes"})
	p.update(engine.Progress{Phase: engine.PhaseCopied, Done: 10 << 20, Total: 10 << 20, Unit: "bytes"})
	if got, want := stderr.String(), "10240/10240 kB (100%) copied\n"; got != want {
		t.Fatalf("-P output %q, want %q (the middle update is within a second of the start)", got, want)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || lines[0] != `{"phase":"copying","done":0,"total":10485760,"unit":"bytes"}` ||
		lines[1] != `{"phase":"copied","done":10485760,"total":10485760,"unit":"bytes"}` {
		t.Fatalf("--progress-json lines:\n%s", stdout.String())
	}
}
