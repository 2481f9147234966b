package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name        string
		become      bool
		cmd         func(d string) *Command
		setup       func(t *testing.T, d string)
		wantChanged bool
		wantSkipped bool
		wantRC      int
		wantErr     string
		wantStdout  string
		wantStderr  string
		// ran is a file the command creates, to see whether it ran.
		ran bool
	}{
		{
			name:        "shell line",
			cmd:         func(d string) *Command { return &Command{Cmd: "echo out; echo err >&2; touch " + d + "/ran"} },
			wantChanged: true, wantStdout: "out\n", wantStderr: "err\n", ran: true,
		},
		{
			name: "argv with spaces and quotes",
			cmd: func(d string) *Command {
				return &Command{Argv: []string{"sh", "-c", `printf '%s|' "$@"; touch "$0/ran"`, d, "a b", "it's", "$HOME"}}
			},
			wantChanged: true, wantStdout: "a b|it's|$HOME|", ran: true,
		},
		{
			name: "chdir env and stdin",
			cmd: func(d string) *Command {
				return &Command{Cmd: `pwd; echo "$FOO"; cat; touch ran`, Chdir: "/tmp", Env: map[string]string{"FOO": "x y"}, Stdin: "in\n"}
			},
			wantChanged: true, wantStdout: "/tmp\nx y\nin\n",
		},
		{
			name:        "non-zero exit",
			cmd:         func(d string) *Command { return &Command{Cmd: "echo bad >&2; exit 3"} },
			wantChanged: true, wantRC: 3, wantStderr: "bad\n", wantErr: "command exited with status 3",
		},
		{
			name:        "creates exists: skipped",
			setup:       func(t *testing.T, d string) { mustWrite(t, d+"/marker", "", 0o644) },
			cmd:         func(d string) *Command { return &Command{Cmd: "touch " + d + "/ran", Creates: d + "/marker"} },
			wantSkipped: true,
		},
		{
			name:        "creates missing: runs",
			cmd:         func(d string) *Command { return &Command{Cmd: "touch " + d + "/ran", Creates: d + "/marker"} },
			wantChanged: true, ran: true,
		},
		{
			name:        "removes missing: skipped",
			cmd:         func(d string) *Command { return &Command{Cmd: "touch " + d + "/ran", Removes: d + "/marker"} },
			wantSkipped: true,
		},
		{
			name:        "become postgres",
			become:      true,
			cmd:         func(d string) *Command { return &Command{Cmd: "id -un; touch ran", Chdir: d} },
			wantChanged: true, wantStdout: "postgres\n", ran: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d, become := t.TempDir(), ""
			if tt.become {
				d, become = postgresDir(t), "postgres"
			}
			if tt.setup != nil {
				tt.setup(t, d)
			}
			c := tt.cmd(d)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			ranPath := filepath.Join(d, "ran")

			out, err := c.Run(ctx, target(become, true, false))
			if err != nil {
				t.Fatalf("check run: %v", err)
			}
			if out.Changed != tt.wantChanged || out.Skipped != tt.wantSkipped {
				t.Errorf("check run: changed=%v skipped=%v; want %v %v", out.Changed, out.Skipped, tt.wantChanged, tt.wantSkipped)
			}
			if _, err := os.Stat(ranPath); err == nil {
				t.Fatal("check run ran the command")
			}

			var mu sync.Mutex
			var lines []string
			tg := target(become, false, false)
			tg.Output = func(stream, line string) {
				mu.Lock()
				lines = append(lines, stream+":"+line)
				mu.Unlock()
			}
			out, err = c.Run(ctx, tg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v; want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if out.Changed != tt.wantChanged || out.Skipped != tt.wantSkipped || out.RC != tt.wantRC {
				t.Errorf("run: changed=%v skipped=%v rc=%d; want %v %v %d", out.Changed, out.Skipped, out.RC, tt.wantChanged, tt.wantSkipped, tt.wantRC)
			}
			if out.Stdout != tt.wantStdout || out.Stderr != tt.wantStderr {
				t.Errorf("stdout %q stderr %q; want %q %q", out.Stdout, out.Stderr, tt.wantStdout, tt.wantStderr)
			}
			for _, l := range strings.Split(strings.TrimSuffix(tt.wantStdout, "\n"), "\n") {
				if tt.wantStdout != "" && !strings.HasSuffix(l, "|") && !contains(lines, "stdout:"+l) {
					t.Errorf("output line %q not streamed (got %q)", l, lines)
				}
			}
			if tt.wantStderr != "" && !contains(lines, "stderr:"+strings.TrimSuffix(tt.wantStderr, "\n")) {
				t.Errorf("stderr not streamed (got %q)", lines)
			}
			if _, err := os.Stat(ranPath); (err == nil) != tt.ran {
				t.Errorf("command ran = %v; want %v", err == nil, tt.ran)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCommandValidate(t *testing.T) {
	for _, c := range []*Command{{}, {Cmd: "  "}, {Cmd: "x", Argv: []string{"y"}}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestCommandCancel checks that cancelling the run stops a long command
// promptly and reports the cancellation.
func TestCommandCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Command{Cmd: "sleep 30"}).Run(ctx, target("", false, false))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %s", d)
	}
}
