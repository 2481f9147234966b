package runbook

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// connPool holds the one connection per host of a run. A host's connection
// is opened by the first step that needs it (its own step, or another
// host's step delegated to it) and shared by every later step; a failed
// connect is remembered, so an unreachable host costs one timeout, not one
// per step.
type connPool struct {
	connect ConnectFunc
	varsOf  func(*Host) map[string]any

	mu    sync.Mutex
	conns map[string]*poolConn
}

// poolConn is one host's connection, or the error of opening it, once
// ready is closed.
type poolConn struct {
	ready chan struct{}
	conn  transport.Conn
	err   error
}

func newConnPool(connect ConnectFunc, varsOf func(*Host) map[string]any) *connPool {
	return &connPool{connect: connect, varsOf: varsOf, conns: make(map[string]*poolConn)}
}

// get returns h's connection, opening it on first use.
func (p *connPool) get(ctx context.Context, h *Host) (transport.Conn, error) {
	p.mu.Lock()
	c, ok := p.conns[h.Name]
	if !ok {
		c = &poolConn{ready: make(chan struct{})}
		p.conns[h.Name] = c
		p.mu.Unlock()
		c.conn, c.err = p.open(ctx, h)
		close(c.ready)
		return c.conn, c.err
	}
	p.mu.Unlock()
	select {
	case <-c.ready:
		return c.conn, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("connect %s: %w", h.Name, ctx.Err())
	}
}

func (p *connPool) open(ctx context.Context, h *Host) (transport.Conn, error) {
	conn, err := p.connect(ctx, h, p.varsOf(h))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", h.Name, err)
	}
	if conn == nil {
		return nil, fmt.Errorf("connect %s: %w", h.Name, errors.New("no connection returned"))
	}
	return conn, nil
}

// closeAll closes every open connection at the end of the run. A close
// error cannot change what the run did, and the hosts' results are already
// recorded, so close errors are deliberately not reported.
func (p *connPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		<-c.ready
		if c.conn != nil {
			_ = c.conn.Close()
		}
	}
}
