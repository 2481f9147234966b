package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// readAhead is how many pieces the file reader may be ahead of the
// compressors and the sender: enough to keep them busy, little enough
// that a session holds about 10 MiB.
const readAhead = 8

// request is a range from the client, or the failure that ended the
// client's list.
type request struct {
	r   source.Range
	err error
}

// session answers the ranges the client sends, in order, each frame
// compressed or raw as mode and the connection's speed say: the request
// reader, the file reader, the compressors and the sender run
// concurrently, so reading files, compressing and sending overlap, and the
// client never waits a round trip per range.
func (s *Server) session(ctx context.Context, conn net.Conn, mode Compression) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reqs := make(chan request, maxRangesPerFrame)
	answers := make(chan answer, readAhead)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(reqs)
		readRequests(ctx, bufio.NewReader(conn), reqs)
	}()
	go func() {
		defer wg.Done()
		defer close(answers)
		dd := newDataDir(s.DataDir)
		defer dd.close()
		readFiles(ctx, dd, reqs, answers)
	}()
	err := s.compress(ctx, cancel, conn, answers, mode)
	linger(conn)
	wg.Wait()
	return err
}

// readRequests passes the client's ranges on until the end frame, and a
// malformed frame on as an error. A connection that ends before the end
// frame is passed on as errClientLeft.
func readRequests(ctx context.Context, r io.Reader, reqs chan<- request) {
	send := func(q request) bool {
		select {
		case reqs <- q:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var buf []byte
	for {
		typ, p, err := readFrame(r, buf)
		buf = p
		switch {
		case errors.Is(err, errFrameTooLarge):
			send(request{err: err})
			return
		case err != nil:
			send(request{err: errClientLeft})
			return
		case typ == frameEnd:
			return
		case typ != frameRanges:
			send(request{err: fmt.Errorf("unexpected frame %q from the client", typ)})
			return
		}
		rs, err := decodeRanges(p)
		if err != nil {
			send(request{err: err})
			return
		}
		for _, r := range rs {
			if !send(request{r: r}) {
				return
			}
		}
	}
}

// lingerTimeout is how long a finished session waits for the client to
// close its side.
const lingerTimeout = 5 * time.Second

// linger ends the session's sending side and reads until the client
// closes: closing a socket with unread requests in it would reset the
// connection, and the client could lose the error frame just sent.
func linger(conn net.Conn) {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, conn)
	conn.Close()
}
