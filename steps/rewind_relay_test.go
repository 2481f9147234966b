package steps

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipeListener is a net.Listener whose connections are net.Pipe ends
// handed in by the test: the engine's side of the remote forward.
type pipeListener struct {
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }

// connect opens a connection to the relay as the engine would.
func (l *pipeListener) connect(t *testing.T) net.Conn {
	t.Helper()
	engine, relayed := net.Pipe()
	select {
	case l.conns <- relayed:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay does not accept")
	}
	return engine
}

// pipeServer stands in for rewind-serve: each dial gets a net.Pipe whose
// far end upper-cases what it reads and answers it, until EOF.
type pipeServer struct {
	mu     sync.Mutex
	dials  int
	fail   error
	hangup bool // answer once, then close
	served sync.WaitGroup
}

func (s *pipeServer) dial(ctx context.Context) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dials++
	if s.fail != nil {
		return nil, s.fail
	}
	near, far := net.Pipe()
	hangup := s.hangup
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		defer far.Close()
		buf := make([]byte, 4096)
		for {
			n, err := far.Read(buf)
			if n > 0 {
				if _, werr := far.Write(bytes.ToUpper(buf[:n])); werr != nil || hangup {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return near, nil
}

// settledGoroutines waits until the goroutine count is back to at most
// want, and returns the count.
func settledGoroutines(want int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamRelay(t *testing.T) {
	cases := []struct {
		name string
		// run drives the relay and returns when its case is done.
		run func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay)
	}{
		{"both ways, several connections", func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay) {
			for i := range 3 {
				c := ln.connect(t)
				msg := strings.Repeat("range ", 1000+i)
				go c.Write([]byte(msg))
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != strings.ToUpper(msg) {
					t.Fatalf("connection %d: %d bytes back, %v", i, len(got), err)
				}
				c.Close()
			}
			if srv.dials != 3 {
				t.Errorf("server dialled %d times, want once per connection", srv.dials)
			}
		}},
		{"the engine hangs up: the server side closes", func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay) {
			c := ln.connect(t)
			c.Write([]byte("x"))
			io.ReadFull(c, make([]byte, 1))
			c.Close()
			waitOrFail(t, &srv.served, "the server's connection stays open after the engine hung up")
		}},
		{"the server hangs up: the engine sees EOF", func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay) {
			srv.mu.Lock()
			srv.hangup = true
			srv.mu.Unlock()
			c := ln.connect(t)
			c.Write([]byte("x"))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatalf("the answer before the hang-up: %v", err)
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("engine read after the server hung up: %v, want EOF", err)
			}
		}},
		{"close ends open connections", func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay) {
			c := ln.connect(t)
			c.Write([]byte("x"))
			io.ReadFull(c, make([]byte, 1))
			done := make(chan error, 1)
			go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
			if err := r.close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Error("the engine read data after close")
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the engine's connection stays open after close")
			}
			waitOrFail(t, &srv.served, "the server's connection stays open after close")
		}},
		{"dial failure closes the engine's connection and is reported", func(t *testing.T, ln *pipeListener, srv *pipeServer, r *streamRelay) {
			srv.mu.Lock()
			srv.fail = errors.New("dial 127.0.0.1:5433 via pg2: connect failed")
			srv.mu.Unlock()
			c := ln.connect(t)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
				t.Errorf("engine read with the server unreachable: %v, want the connection closed", err)
			}
			if err := r.Err(); err == nil || !strings.Contains(err.Error(), "relay the rewind stream: dial 127.0.0.1:5433 via pg2") {
				t.Errorf("Err() = %v, want the dial failure", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ln, srv := newPipeListener(), &pipeServer{}
			r := startRelay(ln, srv.dial)
			tc.run(t, ln, srv, r)
			if err := r.close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if err := r.close(); err != nil {
				t.Errorf("second close: %v", err)
			}
			srv.served.Wait()
			if n := settledGoroutines(before); n > before {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines after close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// waitOrFail waits for wg or fails the test with msg.
func waitOrFail(t *testing.T, wg *sync.WaitGroup, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal(msg)
	}
}

func TestSplice(t *testing.T) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	result := make(chan [2]int64, 1)
	go func() {
		up, down := splice(a2, b1)
		result <- [2]int64{up, down}
	}()
	go a1.Write([]byte("hello"))
	got := make([]byte, 5)
	if _, err := io.ReadFull(b2, got); err != nil || string(got) != "hello" {
		t.Fatalf("a to b: %q %v", got, err)
	}
	go b2.Write([]byte("compressed!"))
	got = make([]byte, 11)
	if _, err := io.ReadFull(a1, got); err != nil || string(got) != "compressed!" {
		t.Fatalf("b to a: %q %v", got, err)
	}
	b2.Close()
	select {
	case n := <-result:
		if n != [2]int64{5, 11} {
			t.Errorf("splice counted %v, want [5 11]", n)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("splice does not return after one end closed")
	}
	if _, err := a1.Read(make([]byte, 1)); err == nil {
		t.Error("the other end is still open after splice returned")
	}
}
