package steps

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := ln.Addr().(*net.TCPAddr).Port
	// A port that refuses: listen, note the port, close.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l2.Addr().(*net.TCPAddr).Port
	l2.Close()

	tests := []struct {
		name    string
		wait    *Wait
		check   bool
		wantErr string
		wantMsg string
		maxTime time.Duration
	}{
		{name: "open port", wait: &Wait{Port: open}, wantMsg: "ready after 1 attempt"},
		{name: "open port, check mode", wait: &Wait{Port: open}, check: true, wantMsg: "ready"},
		{name: "closed port times out", wait: &Wait{Port: closed, Timeout: Duration(300 * time.Millisecond), Interval: Duration(50 * time.Millisecond)},
			wantErr: "wait for port 127.0.0.1:" + strconv.Itoa(closed) + ": timed out after 300ms: last attempt: ", maxTime: 2 * time.Second},
		{name: "closed port, check mode does not wait", wait: &Wait{Port: closed, Timeout: Duration(time.Minute)}, check: true, wantMsg: "not ready yet", maxTime: time.Second},
		{name: "command true", wait: &Wait{Command: "true"}, wantMsg: "ready"},
		{name: "command times out with its output", wait: &Wait{Command: "echo not yet >&2; exit 1", Timeout: Duration(time.Second), Interval: Duration(50 * time.Millisecond)},
			wantErr: "timed out after 1s: last attempt: exit status 1: not yet", maxTime: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.wait.Validate(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err := tt.wait.Run(context.Background(), target("", tt.check, false))
			if tt.maxTime > 0 && time.Since(start) > tt.maxTime {
				t.Errorf("took %s", time.Since(start))
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Changed || !strings.Contains(out.Msg, tt.wantMsg) {
				t.Errorf("outcome %+v; want unchanged with %q", out, tt.wantMsg)
			}
		})
	}
}

// TestWaitUntilReady waits for a file that appears while waiting.
func TestWaitUntilReady(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ready")
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.WriteFile(p, nil, 0o644)
	}()
	w := &Wait{Command: "test -e " + p, Timeout: Duration(5 * time.Second), Interval: Duration(50 * time.Millisecond)}
	out, err := w.Run(context.Background(), target("", false, false))
	if err != nil {
		t.Fatal(err)
	}
	if out.Changed || !strings.Contains(out.Msg, "ready after") || strings.Contains(out.Msg, "after 1 attempt") {
		t.Errorf("outcome %+v", out)
	}
}

// TestWaitCancel checks that cancelling the run stops the wait at once.
func TestWaitCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := (&Wait{Command: "false", Timeout: Duration(time.Minute)}).Run(ctx, target("", false, false))
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
}

func TestWaitValidate(t *testing.T) {
	for _, w := range []*Wait{{}, {Command: "x", Port: 1}, {Port: 70000}, {Command: "x", Host: "h"}} {
		if err := w.Validate(); err == nil {
			t.Errorf("%+v: no error", w)
		}
	}
}
