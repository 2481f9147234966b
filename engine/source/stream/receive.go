package stream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// receive reads the envelopes of answers and checks that they answer the
// ranges in order; it returns the ranges the server refused.
func (c *Client) receive(conn net.Conn, rs []source.Range, sink source.Sink) ([]refusal, error) {
	er, err := newEnvelopeReader(countingReader{r: bufio.NewReaderSize(conn, 256<<10), n: &c.transferred})
	if err != nil {
		return nil, err
	}
	defer func() {
		er.close()
		c.envelopesRaw.Add(int64(er.raw))
		c.envelopesZstd.Add(int64(er.zstd))
		c.debugf("received %d frames compressed and %d raw from stream server at %s", er.zstd, er.raw, c.addr)
	}()
	v := verifier{ranges: rs}
	var refused []refusal
	for {
		typ, p, err := er.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			if lost(err) {
				return nil, fmt.Errorf("stream from %s lost while fetching %q: %w", c.addr, v.current(), err)
			}
			return nil, fmt.Errorf("stream server at %s sent garbage while fetching %q: %w", c.addr, v.current(), err)
		}
		switch typ {
		case frameData:
			pc, err := decodePiece(p)
			if err == nil {
				err = v.check(pc)
			}
			if err != nil {
				return nil, fmt.Errorf("stream server at %s: bad answer while fetching %q: %w", c.addr, v.current(), err)
			}
			switch {
			case pc.flags&pieceRefused != 0:
				refused = append(refused, refusal{r: v.ranges[v.i], reason: string(pc.data)})
			// An empty closing piece of a file that ended on a piece
			// boundary carries nothing for the sink.
			case len(pc.data) > 0 || !v.open || pc.flags&pieceVanished != 0:
				if err := c.deliver(pc, sink); err != nil {
					return nil, err
				}
			}
			v.advance(pc)
		case frameError:
			return nil, fmt.Errorf("stream server at %s: %w", c.addr, parseError(p))
		case frameDone:
			if !v.finished() {
				return nil, fmt.Errorf("stream server at %s ended its answers after %d of %d ranges", c.addr, v.i, len(rs))
			}
			return refused, nil
		default:
			return nil, fmt.Errorf("stream server at %s sent an unknown frame type 0x%02x while fetching %q", c.addr, typ, v.current())
		}
	}
}

// deliver hands one piece to the sink.
func (c *Client) deliver(p piece, sink source.Sink) error {
	if p.flags&pieceVanished != 0 {
		c.debugf("received vanished file \"%s\", file has been deleted", p.path)
		return sink(p.path, p.offset, nil, true)
	}
	c.debugf("received chunk for file \"%s\", offset %d, size %d", p.path, p.offset, len(p.data))
	return sink(p.path, p.offset, p.data, false)
}

// verifier checks that the pieces answer the ranges in order: each piece
// of the range being answered, contiguous, no longer than the range
// (unless it is a whole file), the last one flagged.
type verifier struct {
	ranges []source.Range
	i      int
	next   int64 // offset the next piece of range i must have
	got    int64 // bytes of range i so far
	open   bool  // a piece of range i has arrived
}

func (v *verifier) current() string {
	if v.i < len(v.ranges) {
		return v.ranges[v.i].Path
	}
	if n := len(v.ranges); n > 0 {
		return v.ranges[n-1].Path
	}
	return ""
}

func (v *verifier) finished() bool { return v.i == len(v.ranges) }

func (v *verifier) check(p piece) error {
	if v.finished() {
		return fmt.Errorf("data for %q after the last range", p.path)
	}
	r := v.ranges[v.i]
	next := r.Offset
	if v.open {
		next = v.next
	}
	switch {
	case p.path != r.Path:
		return fmt.Errorf("data for file %q, when %q was requested", p.path, r.Path)
	case p.offset != next:
		return fmt.Errorf("data at offset %d of file %q, when offset %d was due", p.offset, p.path, next)
	case p.flags&(pieceVanished|pieceRefused) != 0 && v.open:
		return fmt.Errorf("file %q vanished or was refused in the middle of its answer", p.path)
	case p.flags&pieceRefused != 0 && len(p.data) == 0:
		return fmt.Errorf("file %q refused without a reason", p.path)
	case p.flags&pieceRefused != 0:
		// The data is the reason, not file data.
		return nil
	case !r.Whole && v.got+int64(len(p.data)) > r.Length:
		return fmt.Errorf("more data than requested for file %q", p.path)
	}
	return nil
}

func (v *verifier) advance(p piece) {
	if p.flags&pieceLast != 0 {
		v.i++
		v.next, v.got, v.open = 0, 0, false
		return
	}
	v.open = true
	v.next = p.offset + int64(len(p.data))
	v.got += int64(len(p.data))
}

// lost tells a connection that broke or ended early from a stream that
// does not decode.
func lost(err error) bool {
	var ne net.Error
	var se syscall.Errno
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) || errors.As(err, &se)
}
