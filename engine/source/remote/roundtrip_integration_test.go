package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
)

// flightProxy relays TCP connections to a server and counts, per
// connection, the client's flights: runs of client bytes after server
// bytes (or at the start). On a link with latency each flight but a
// final Terminate costs a round trip.
type flightProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	flights []int // per accepted connection, in accept order
	wg      sync.WaitGroup
}

func startFlightProxy(t *testing.T, target string) *flightProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flightProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *flightProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		i := len(p.flights)
		p.flights = append(p.flights, 0)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.relay(c, i)
	}
}

// relay copies both ways; fromClient tracks which side spoke last.
func (p *flightProxy) relay(c net.Conn, i int) {
	defer p.wg.Done()
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	clientLast := false
	copyDir := func(dst, src net.Conn, client bool) {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if client && !clientLast {
					p.flights[i]++
				}
				clientLast = client
				p.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Half-close so that the other direction ends too.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	done := make(chan struct{})
	go func() { copyDir(c, s, false); close(done) }()
	copyDir(s, c, true)
	<-done
}

func (p *flightProxy) counts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.flights...)
}

// testRoundTrips checks what a rewind's SQL costs in round trips through
// a server that refuses TLS, under the default sslmode=prefer: only the
// first connection pays the refused TLS attempt, the session is set up in
// one round trip plus the fetch statement's preparation, and the one-off
// statements take one round trip each.
func testRoundTrips(t *testing.T, ctx context.Context, s *testServer) {
	p := startFlightProxy(t, fmt.Sprintf("127.0.0.1:%d", s.c.Port))
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=rewind_user dbname=postgres sslmode=prefer", p.ln.Addr().(*net.TCPAddr).Port)

	// A bare connection that does nothing: startup and Terminate.
	bare, err := Open(ctx, conninfo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p.wg.Wait() // the Terminate is relayed
	base := p.counts()
	if len(base) != 2 || base[0] != 1 {
		t.Fatalf("a refused TLS attempt and one plain connection expected, flights %v", base)
	}
	// Startup, session setup and checks, statement preparation, Terminate.
	bareFlights := base[1]
	if bareFlights != 4 {
		t.Errorf("a bare connection took %d flights, want 4 (startup, setup, prepare, Terminate)", bareFlights)
	}

	src, err := Open(ctx, conninfo, Options{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.List(ctx, func(filemap.File) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := src.FetchFile(ctx, "global/pg_control"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CurrentInsertLSN(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := src.WALPosition(ctx); err != nil {
		t.Fatal(err)
	}
	ranges := []source.Range{
		{Path: quotedName, Length: 7, Whole: true},
		{Path: "tst_dir/big.bin", Length: int64(s.bigLen), Whole: true},
		{Path: "tst_dir/sub/.DS_Store", Length: 6, Whole: true},
		{Path: `tst_dir/back\slash name`, Length: 2, Whole: true},
	}
	if err := src.Fetch(ctx, ranges, func(string, int64, []byte, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p.wg.Wait()
	got := p.counts()[len(base):]
	// One refused TLS attempt (first), then four plain connections.
	if len(got) != 5 || got[0] != 1 {
		t.Fatalf("want one refused TLS attempt and 4 connections, got flights %v", got)
	}
	// The first: list, pg_control, insert LSN, WAL position and one fetch
	// query beyond a bare connection.
	if got[1] != bareFlights+5 {
		t.Errorf("first connection: %d flights, want %d (bare %d + 5)", got[1], bareFlights+5, bareFlights)
	}
	for i, n := range got[2:] {
		if n != bareFlights+1 {
			t.Errorf("job connection %d: %d flights, want %d (bare %d + one fetch query)", i+2, n, bareFlights+1, bareFlights)
		}
	}
}

// testJobConnectError checks that a job connection that cannot open fails
// the fetch with an error naming the server, without its password.
func testJobConnectError(t *testing.T, ctx context.Context, s *testServer) {
	src, err := Open(ctx, s.c.ConnString("rewind_user")+" password='Sup3r-Secret'", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	src.jobs = 3
	src.config.Database = "no_such_db"
	err = src.Fetch(ctx, []source.Range{
		{Path: quotedName, Length: 7, Whole: true},
		{Path: "tst_dir/sub/.DS_Store", Length: 6, Whole: true},
	}, func(string, int64, []byte, bool) error { return nil })
	var e *Error
	if !errors.As(err, &e) || e.Op != "connect" || !strings.Contains(e.Conninfo, "password=xxxxx") {
		t.Fatalf("error = %v, want a connect error naming the redacted server", err)
	}
	if strings.Contains(err.Error(), "Sup3r-Secret") || !strings.Contains(err.Error(), "no_such_db") {
		t.Fatalf("error = %v", err)
	}
	if len(src.conns) != 1 {
		t.Fatalf("%d connections kept after a failed opening", len(src.conns))
	}
}
