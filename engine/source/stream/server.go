package stream

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// handshakeTimeout bounds how long a new connection may take to present
// the magic, the token and its hello.
const handshakeTimeout = 10 * time.Second

// Server serves the files of one PGDATA to clients that present its token.
// It only ever reads.
type Server struct {
	// DataDir is the PGDATA served.
	DataDir string
	// Token is what every connection must present first (TokenSize
	// bytes).
	Token []byte
	// IdleTimeout ends Serve once no connection has been open for this
	// long; zero means never.
	IdleTimeout time.Duration
	// Logf, when set, receives one line per connection event (refused
	// token, read errors, sessions served).
	Logf func(format string, args ...any)

	mu       sync.Mutex
	open     int
	lastSeen time.Time
	pace     *pacer // shared by the connections in auto mode
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Serve accepts connections on ln until ctx ends or the server has been
// idle for IdleTimeout; both are a normal end and return nil. It closes ln
// and the open connections before it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if len(s.Token) != TokenSize {
		return fmt.Errorf("serve %s: token of %d bytes, want %d", s.DataDir, len(s.Token), TokenSize)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.lastSeen = time.Now()
	s.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	if s.IdleTimeout > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.watchIdle(ctx, cancel)
		}()
	}
	backoff := time.Duration(0)
	for {
		conn, err := ln.Accept()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, net.ErrClosed):
				return fmt.Errorf("accept stream connection on %s: %w", ln.Addr(), err)
			}
			// Running out of file descriptors and the like pass; the
			// server waits a little and goes on rather than leave.
			backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
			s.logf("accept: %v; retrying in %s", err, backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		s.track(+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.track(-1)
			s.serveConn(ctx, conn)
		}()
	}
}

// track counts open connections; the idle clock restarts whenever one
// opens or closes.
func (s *Server) track(delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open += delta
	s.lastSeen = time.Now()
}

// watchIdle cancels the server once no connection has been open for
// IdleTimeout, so that a server whose client went away does not stay
// behind.
func (s *Server) watchIdle(ctx context.Context, cancel func()) {
	tick := time.NewTicker(min(max(s.IdleTimeout/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		idle := s.open == 0 && time.Since(s.lastSeen) >= s.IdleTimeout
		s.mu.Unlock()
		if idle {
			s.logf("no connection for %s, stopping", s.IdleTimeout)
			cancel()
			return
		}
	}
}

// serveConn runs the handshake, then one fetch session.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	peer := conn.RemoteAddr()
	mode, err := s.handshake(conn)
	if err != nil {
		s.logf("connection from %s: %v", peer, err)
		return
	}
	if err := s.session(ctx, conn, mode); err != nil {
		s.logf("connection from %s: %v", peer, err)
		return
	}
}

// handshake checks the magic and the token, reads the hello and answers
// with the identity, all within handshakeTimeout. It returns the
// compression the client asked for.
func (s *Server) handshake(conn net.Conn) (Compression, error) {
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	prelude := make([]byte, len(Magic)+TokenSize)
	if _, err := io.ReadFull(conn, prelude); err != nil {
		return 0, fmt.Errorf("read token: %w", err)
	}
	if string(prelude[:len(Magic)]) != Magic {
		return 0, errors.New("not a stream client (bad magic), dropped")
	}
	if subtle.ConstantTimeCompare(prelude[len(Magic):], s.Token) != 1 {
		// The refusal is said, so the client can tell a wrong token
		// from a lost connection.
		writeFrame(conn, frameError, errorFrame(codeToken, "wrong token"))
		return 0, errors.New("wrong token, dropped")
	}
	typ, hello, err := readFrame(conn, nil)
	if err != nil {
		return 0, fmt.Errorf("read hello: %w", err)
	}
	if typ != frameHello {
		writeFrame(conn, frameError, errorFrame(codeRequest, fmt.Sprintf("expected a hello frame, got %q", typ)))
		return 0, fmt.Errorf("expected a hello frame, got %q", typ)
	}
	hd := decoder{b: hello}
	version, mode := hd.u16(), Compression(hd.u8())
	switch {
	case hd.done("hello") != nil || version != Version:
		// A client of another version is told in its own words: the
		// error frame has kept its form since version 1.
		msg := fmt.Sprintf("server speaks protocol version %d, the client another (run the same pgrunbook on both sides)", Version)
		writeFrame(conn, frameError, errorFrame(codeRequest, msg))
		return 0, errors.New(msg)
	case !mode.valid():
		writeFrame(conn, frameError, errorFrame(codeRequest, fmt.Sprintf("unknown compression %d", mode)))
		return 0, fmt.Errorf("unknown compression %d", mode)
	}
	id, err := ReadIdentity(s.DataDir)
	if err != nil {
		writeFrame(conn, frameError, errorFrame(codeRead, err.Error()))
		return 0, err
	}
	if err := writeFrame(conn, frameIdentity, encodeIdentity(id)); err != nil {
		return 0, fmt.Errorf("send identity: %w", err)
	}
	return mode, nil
}
