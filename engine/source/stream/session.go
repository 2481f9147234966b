package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// readAhead is how many pieces the file reader may be ahead of the
// compressor.
const readAhead = 16

// pieceBufs recycles piece buffers between the file reader and the
// compressor.
var pieceBufs = sync.Pool{New: func() any { b := make([]byte, MaxPiece); return &b }}

// request is a range from the client, or the failure that ended the
// client's list.
type request struct {
	r   source.Range
	err error
}

// answer is a piece for the compressor, an error frame to send instead,
// or the end of the answers; buf is the pooled buffer behind the piece's
// data.
type answer struct {
	p   piece
	buf *[]byte
	err *ServerError
	end bool
}

// session answers the ranges the client sends, in order, through one zstd
// stream: the request reader, the file reader and the compressor run
// concurrently, so reading files, compressing and sending overlap, and
// the client never waits a round trip per range.
func (s *Server) session(ctx context.Context, conn net.Conn) error {
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
	err := s.compress(conn, answers)
	cancel()
	for a := range answers {
		if a.buf != nil {
			pieceBufs.Put(a.buf)
		}
	}
	linger(conn)
	wg.Wait()
	return err
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

// readRequests passes the client's ranges on until the end frame, and a
// malformed frame on as an error. A connection that ends before the end
// frame ends the session without an error: the client left.
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

// errClientLeft ends a session whose client closed the connection before
// its end frame: the reader of files stops without an answer.
var errClientLeft = errors.New("client left")

// readFiles reads each requested range and passes its pieces on; the
// last answer of a failed session is an error frame.
func readFiles(ctx context.Context, dd *dataDir, reqs <-chan request, answers chan<- answer) {
	send := func(a answer) bool {
		select {
		case answers <- a:
			return true
		case <-ctx.Done():
			if a.buf != nil {
				pieceBufs.Put(a.buf)
			}
			return false
		}
	}
	var f *os.File
	var fpath string
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for q := range reqs {
		if errors.Is(q.err, errClientLeft) {
			return
		}
		if q.err != nil {
			send(answer{err: &ServerError{Code: codeRequest, Text: "bad request: " + q.err.Error()}})
			return
		}
		r := q.r
		if f == nil || fpath != r.Path {
			if f != nil {
				f.Close()
				f = nil
			}
			nf, err := dd.open(r.Path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if !send(answer{p: piece{path: r.Path, offset: r.Offset, flags: pieceVanished | pieceLast}}) {
					return
				}
				continue
			case err != nil:
				send(answer{err: &ServerError{Code: codeRead, Text: fmt.Sprintf("open %s: %v", r.Path, unwrapPath(err))}})
				return
			}
			f, fpath = nf, r.Path
		}
		if err := readRange(f, r, send); err != nil {
			send(answer{err: &ServerError{Code: codeRead, Text: fmt.Sprintf("read %s: %v", r.Path, unwrapPath(err))}})
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
	// The end frame ends the list.
	send(answer{end: true})
}

// readRange sends r's pieces: a whole file to its current end, any other
// range as far as the file has it.
func readRange(f *os.File, r source.Range, send func(answer) bool) error {
	off := r.Offset
	remaining := r.Length
	for {
		want := int64(MaxPiece)
		if !r.Whole {
			want = min(want, remaining)
		}
		buf := pieceBufs.Get().(*[]byte)
		n, err := f.ReadAt((*buf)[:want], off)
		if err != nil && !errors.Is(err, io.EOF) {
			pieceBufs.Put(buf)
			return err
		}
		last := int64(n) < want || !r.Whole && remaining-int64(n) == 0
		var flags byte
		if last {
			flags = pieceLast
		}
		if !send(answer{p: piece{path: r.Path, offset: off, flags: flags, data: (*buf)[:n]}, buf: buf}) {
			return nil
		}
		off += int64(n)
		remaining -= int64(n)
		if last {
			return nil
		}
	}
}

// unwrapPath drops the *PathError's path, which names the server's
// directories; the message names the path relative to PGDATA instead.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// compress writes the answers into one zstd stream, flushing whenever the
// file reader has nothing ready, so the client is never left waiting for
// data held in the compressor. The stream ends with a done frame, or with
// an error frame.
func (s *Server) compress(conn net.Conn, answers <-chan answer) error {
	enc, err := zstd.NewWriter(conn, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithWindowSize(1<<20))
	if err != nil {
		return fmt.Errorf("start compressor: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			enc.Close()
		}
	}()
	dirty := false
	for {
		var a answer
		var ok bool
		select {
		case a, ok = <-answers:
		default:
			if dirty {
				if err := enc.Flush(); err != nil {
					return fmt.Errorf("send: %w", err)
				}
				dirty = false
			}
			a, ok = <-answers
		}
		if !ok {
			// The client left before its end frame.
			return nil
		}
		dirty = true
		switch {
		case a.err != nil:
			s.logf("%s", a.err.Text)
			if err := writeFrame(enc, frameError, errorFrame(a.err.Code, a.err.Text)); err != nil {
				return fmt.Errorf("send error frame: %w", err)
			}
			closed = true
			if err := enc.Close(); err != nil {
				return fmt.Errorf("send error frame: %w", err)
			}
			return errors.New(a.err.Text)
		case a.end:
			if err := writeFrame(enc, frameDone, nil); err != nil {
				return fmt.Errorf("send done frame: %w", err)
			}
			closed = true
			if err := enc.Close(); err != nil {
				return fmt.Errorf("send done frame: %w", err)
			}
			return nil
		}
		_, err := enc.Write(pieceHeader(a.p))
		if err == nil && len(a.p.data) > 0 {
			_, err = enc.Write(a.p.data)
		}
		if a.buf != nil {
			pieceBufs.Put(a.buf)
		}
		if err != nil {
			return fmt.Errorf("send %s: %w", a.p.path, err)
		}
	}
}
