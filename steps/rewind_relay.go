package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relayDialTimeout bounds the opening of one connection to the stream
// server through the new primary's SSH connection.
const relayDialTimeout = 30 * time.Second

// streamRelay joins the engine on the old primary to the stream server on
// the new primary, through the bastion: every connection the engine
// opens to a listener on the old primary (a remote forward over its SSH
// connection) is spliced to a new connection to the server (a
// direct-tcpip channel over the new primary's SSH connection). The two
// database hosts never need to reach each other's SSH, and the server
// listens on the new primary's loopback only.
type streamRelay struct {
	ln   net.Listener
	dial func(ctx context.Context) (net.Conn, error)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
	err    error // the first dial failure

	conns atomic.Int64 // connections relayed
	bytes atomic.Int64 // bytes from the server to the engine
}

// startRelay accepts on ln until close, joining each connection to one
// that dial opens.
func startRelay(ln net.Listener, dial func(ctx context.Context) (net.Conn, error)) *streamRelay {
	r := &streamRelay{ln: ln, dial: dial, open: map[net.Conn]struct{}{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.accept()
	return r
}

// accept runs until the listener is closed or its connection ends.
func (r *streamRelay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go r.join(c)
	}
}

// join dials the server for the engine's connection c and splices the
// two; a failed dial closes c, which the engine sees as a broken stream.
func (r *streamRelay) join(c net.Conn) {
	defer r.wg.Done()
	defer r.untrack(c)
	ctx, cancel := context.WithTimeout(r.ctx, relayDialTimeout)
	s, err := r.dial(ctx)
	cancel()
	if err != nil {
		r.fail(err)
		c.Close()
		return
	}
	if !r.track(s) {
		s.Close()
		c.Close()
		return
	}
	defer r.untrack(s)
	r.conns.Add(1)
	_, down := splice(c, s)
	r.bytes.Add(down)
}

// relayBufSize is the copy buffer of each direction of a relayed
// connection. Both ends are SSH channels whose windows hold megabytes: a
// read takes whatever has arrived, and one write of it goes out as
// back-to-back packets, where io.Copy's 32 KiB would mean one read and
// one write per packet.
const relayBufSize = 256 << 10

// relayBufs recycles the copy buffers.
var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}

// copyRelay copies src to dst with a pooled buffer (SSH channels have no
// ReaderFrom or WriterTo; TCP connections, as with the local transport,
// still splice in the kernel).
func copyRelay(dst io.Writer, src io.Reader) int64 {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	n, _ := io.CopyBuffer(dst, src, *bp)
	return n
}

// splice copies a to b and b to a until either direction ends, then
// closes both, so that neither side waits on a peer that is gone. It
// returns the bytes copied each way.
func splice(a, b net.Conn) (aToB, bToA int64) {
	done := make(chan struct{}, 2)
	go func() {
		aToB = copyRelay(b, a)
		done <- struct{}{}
	}()
	go func() {
		bToA = copyRelay(a, b)
		done <- struct{}{}
	}()
	<-done
	a.Close()
	b.Close()
	<-done
	return aToB, bToA
}

// track registers an open connection so close can end it; it refuses
// once the relay is closed.
func (r *streamRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.open[c] = struct{}{}
	return true
}

func (r *streamRelay) untrack(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, c)
}

// fail records the first dial failure.
func (r *streamRelay) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// Err returns why the relay could not reach the server, if it could not.
func (r *streamRelay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return nil
	}
	return fmt.Errorf("relay the rewind stream: %w", r.err)
}

// close stops accepting, ends every relayed connection and waits for the
// relay's goroutines. It returns the listener's close error (the end of
// the remote forward).
func (r *streamRelay) close() error {
	r.mu.Lock()
	r.closed = true
	open := make([]net.Conn, 0, len(r.open))
	for c := range r.open {
		open = append(open, c)
	}
	r.mu.Unlock()
	r.cancel()
	err := r.ln.Close()
	for _, c := range open {
		c.Close()
	}
	r.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close the rewind stream listener %s: %w", r.ln.Addr(), err)
	}
	return nil
}
