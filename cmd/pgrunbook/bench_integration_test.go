package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// warmConns keeps each host's SSH connection across runs, so that a
// benchmark measures steps, not handshakes.
type warmConns struct {
	inv   *runbook.Inventory
	mu    sync.Mutex
	conns map[string]transport.Conn
}

func (w *warmConns) connect(ctx context.Context, h *runbook.Host, vars map[string]any) (transport.Conn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.conns[h.Name]; ok {
		return keepOpen{c}, nil
	}
	cfg, err := runbook.SSHConfigFor(w.inv, h, vars)
	if err != nil {
		return nil, err
	}
	c, err := transport.DialSSH(ctx, cfg)
	if err != nil {
		return nil, err
	}
	w.conns[h.Name] = c
	return keepOpen{c}, nil
}

func (w *warmConns) closeAll() {
	for _, c := range w.conns {
		c.Close()
	}
}

// keepOpen is a connection whose Close, called by the executor at the end
// of each run, leaves it open for the next.
type keepOpen struct{ transport.Conn }

func (keepOpen) Close() error { return nil }

// BenchmarkNoopStepLab measures what a no-op step costs per host over a
// warm connection: a playbook of 20 `true` commands on four lab hosts run
// with -f 4, the connection opened by a first step that is not counted.
// ms/step/host is the run's wall time divided by steps × hosts, the same
// arithmetic that puts ansible-core at about 0.4 s per task per host (20
// no-op tasks on 4 hosts in about 30 s); ms/step is the wall time of one
// step across all four hosts.
func BenchmarkNoopStepLab(b *testing.B) {
	lab := testenv.ForTest(b, testenv.Spec{Hosts: 4})
	const steps = 20
	var pb strings.Builder
	pb.WriteString("name: no-op\nhosts: db\nsteps:\n")
	for i := 0; i < steps; i++ {
		fmt.Fprintf(&pb, "  - name: noop %d\n    command: {argv: [\"true\"]}\n    changed_when: \"false\"\n", i)
	}
	playbook := filepath.Join(b.TempDir(), "noop.yml")
	if err := os.WriteFile(playbook, []byte(pb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	inv, err := runbook.LoadInventory(lab.Inventory)
	if err != nil {
		b.Fatal(err)
	}
	warm := &warmConns{inv: inv, conns: map[string]transport.Conn{}}
	defer warm.closeAll()
	opts := runOptions{inventory: lab.Inventory, forks: 4, output: "json", connect: warm.connect}
	// A warm-up run pays for the handshakes and the page cache.
	if err := runRun(ctx, opts, []string{playbook}, io.Discard); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := runRun(ctx, opts, []string{playbook}, io.Discard); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	perStep := float64(total.Microseconds()) / 1000 / float64(b.N*steps)
	b.ReportMetric(perStep, "ms/step")
	b.ReportMetric(perStep/float64(len(lab.Hosts)), "ms/step/host")
}
