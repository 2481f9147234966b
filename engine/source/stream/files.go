package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// maxPathLen bounds a requested path; PostgreSQL's own limit (MAXPGPATH)
// is 1024 bytes.
const maxPathLen = 1024

// frameRoom is what a piece buffer holds beyond the data: the frame and
// piece headers, so that a frame is built in place around the data read.
const frameRoom = 5 + 1 + 8 + 2 + maxPathLen

// pieceBufs recycles the buffers data frames are built in.
var pieceBufs = sync.Pool{New: func() any { b := make([]byte, frameRoom+MaxPiece); return &b }}

// answer is one frame for the compressor: a data frame (built whole in
// frame, which lives in buf when buf is not nil), an error frame to end
// with, or the end of the answers.
type answer struct {
	frame []byte
	buf   *[]byte
	err   *ServerError
	end   bool
}

// release gives the answer's buffer back.
func (a answer) release() {
	if a.buf != nil {
		pieceBufs.Put(a.buf)
	}
}

// errClientLeft ends a session whose client closed the connection before
// its end frame: the reader of files stops without an answer.
var errClientLeft = errors.New("client left")

// readFiles reads each requested range and passes its pieces on; the
// last answer of a failed session is an error frame, that of a complete
// one the end.
func readFiles(ctx context.Context, dd *dataDir, reqs <-chan request, answers chan<- answer) {
	send := func(a answer) bool {
		select {
		case answers <- a:
			return true
		case <-ctx.Done():
			a.release()
			return false
		}
	}
	fail := func(code byte, format string, args ...any) {
		send(answer{err: &ServerError{Code: code, Text: fmt.Sprintf(format, args...)}})
	}
	var f *os.File
	var fpath string
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		var q request
		var ok bool
		// The wait for the next request ends with the session, so a
		// session that failed while the client was still silent
		// (its connection parked) does not keep this reader.
		select {
		case q, ok = <-reqs:
		case <-ctx.Done():
			return
		}
		if !ok {
			break
		}
		if errors.Is(q.err, errClientLeft) {
			return
		}
		if q.err != nil {
			fail(codeRequest, "bad request: %v", q.err)
			return
		}
		r := q.r
		if len(r.Path) > maxPathLen {
			fail(codeRequest, "bad request: path of %d bytes, longer than %d", len(r.Path), maxPathLen)
			return
		}
		if f == nil || fpath != r.Path {
			if f != nil {
				f.Close()
				f = nil
			}
			nf, err := dd.open(r.Path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if !send(answer{frame: dataFrame(nil, r.Path, r.Offset, pieceVanished|pieceLast, 0)}) {
					return
				}
				continue
			case escapes(err):
				reason := fmt.Sprintf("open %s: %v", r.Path, unwrapPath(err))
				frame := append(dataFrame(nil, r.Path, r.Offset, pieceRefused|pieceLast, len(reason)), reason...)
				if !send(answer{frame: frame}) {
					return
				}
				continue
			case err != nil:
				fail(codeRead, "open %s: %v", r.Path, unwrapPath(err))
				return
			}
			f, fpath = nf, r.Path
		}
		if err := readRange(f, r, send); err != nil {
			fail(codeRead, "read %s: %v", r.Path, unwrapPath(err))
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
// range as far as the file has it. Each piece is read straight into its
// frame.
func readRange(f *os.File, r source.Range, send func(answer) bool) error {
	off := r.Offset
	remaining := r.Length
	hlen := frameRoom - maxPathLen + len(r.Path)
	for {
		want := int64(MaxPiece)
		if !r.Whole {
			want = min(want, remaining)
		}
		buf := pieceBufs.Get().(*[]byte)
		n, err := f.ReadAt((*buf)[hlen:hlen+int(want)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			pieceBufs.Put(buf)
			return err
		}
		last := int64(n) < want || !r.Whole && remaining-int64(n) == 0
		var flags byte
		if last {
			flags = pieceLast
		}
		frame := dataFrame((*buf)[:0], r.Path, off, flags, n)
		if !send(answer{frame: frame[:hlen+n], buf: buf}) {
			return nil
		}
		off += int64(n)
		remaining -= int64(n)
		if last {
			return nil
		}
	}
}

// escapes reports an os.Root refusal of a path that leads out of its
// directory. The os package has no exported error for it, so its message
// is matched.
func escapes(err error) bool {
	return err != nil && strings.Contains(unwrapPath(err).Error(), "path escapes from parent")
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
