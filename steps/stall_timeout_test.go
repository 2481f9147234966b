package steps

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestStepTimeouts runs steps whose work outlasts their timeout on the
// local transport: each fails soon after the timeout instead of waiting.
func TestStepTimeouts(t *testing.T) {
	t.Parallel()
	// A server that accepts and then never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	silent := fmt.Sprintf("host=127.0.0.1 port=%d user=x dbname=x sslmode=disable connect_timeout=30", ln.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name string
		a    runbook.Action
	}{
		{"command", &Command{Cmd: "sleep 30", Timeout: Duration(500 * time.Millisecond)}},
		{"command argv", &Command{Argv: []string{"sleep", "30"}, Timeout: Duration(500 * time.Millisecond)}},
		{"sql", &SQL{Conninfo: silent, Query: "SELECT 1", Timeout: Duration(500 * time.Millisecond)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := time.Now()
			_, err := tc.a.Run(context.Background(), target("", false, false))
			if took := time.Since(started); err == nil || took < 400*time.Millisecond || took > 10*time.Second {
				t.Errorf("took %s, error %v; want a failure soon after 500ms", took, err)
			}
		})
	}
}
