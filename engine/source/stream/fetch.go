package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync/atomic"
	"syscall"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// Fetch reads the ranges and hands every piece to sink. Adjacent ranges
// are merged (see Merge). With one job the ranges go over one connection
// in their order and sink is called from the calling goroutine; with more,
// the files are dealt out, largest first, to the connection with the least
// work so far, and each file's pieces still arrive in order from one
// goroutine. On each connection the list is sent in frames of at most
// maxRangesPerFrame ranges by a goroutine of its own while the answers are
// read, so no range waits for a round trip. A whole-file range gets the
// file as the server has it now; a range past the end of its file comes
// back short; a file the server no longer has is passed to sink as
// vanished.
func (c *Client) Fetch(ctx context.Context, ranges []source.Range, sink source.Sink) error {
	for _, r := range ranges {
		if r.Whole && r.Offset != 0 {
			return fmt.Errorf("fetch %q: a whole-file range must start at offset 0", r.Path)
		}
	}
	merged := Merge(ranges)
	if len(merged) == 0 {
		return nil
	}
	c.debugf("getting %d file ranges (%d before merging) from stream server at %s", len(merged), len(ranges), c.addr)
	shards := shard(merged, c.opts.Jobs)
	refused := make([][]refusal, len(shards))
	if len(shards) == 1 {
		var err error
		if refused[0], err = c.fetchShard(ctx, shards[0], sink); err != nil {
			return err
		}
	} else {
		g, gctx := errgroup.WithContext(ctx)
		for i, sh := range shards {
			g.Go(func() error {
				var err error
				refused[i], err = c.fetchShard(gctx, sh, sink)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return c.fetchRefused(ctx, slices.Concat(refused...), sink)
}

// refusal is a range whose file the server would not open, and why.
type refusal struct {
	r      source.Range
	reason string
}

// fetchRefused hands the refused ranges to the fallback. All the ranges of
// a refused file are refused, so each file still reaches the sink in
// order, from one goroutine.
func (c *Client) fetchRefused(ctx context.Context, refused []refusal, sink source.Sink) error {
	if len(refused) == 0 {
		return nil
	}
	if c.opts.Fallback == nil {
		return fmt.Errorf("stream server at %s: %s (outside PGDATA)", c.addr, refused[0].reason)
	}
	rs := make([]source.Range, len(refused))
	for i, f := range refused {
		rs[i] = f.r
		c.debugf("fetching %q another way: the stream server refused it: %s", f.r.Path, f.reason)
	}
	return c.opts.Fallback(ctx, rs, sink)
}

// shard splits the ranges into at most jobs lists with each file's ranges
// kept together and in order, balancing the bytes asked for (longest
// processing time first).
func shard(ranges []source.Range, jobs int) [][]source.Range {
	if jobs <= 1 {
		return [][]source.Range{ranges}
	}
	type file struct {
		ranges []source.Range
		bytes  int64
	}
	var files []*file
	byPath := map[string]*file{}
	for _, r := range ranges {
		f := byPath[r.Path]
		if f == nil {
			f = &file{}
			byPath[r.Path] = f
			files = append(files, f)
		}
		f.ranges = append(f.ranges, r)
		f.bytes += r.Length
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].bytes > files[j].bytes })
	n := min(jobs, len(files))
	shards := make([][]source.Range, n)
	load := make([]int64, n)
	for _, f := range files {
		least := 0
		for i := range load {
			if load[i] < load[least] {
				least = i
			}
		}
		shards[least] = append(shards[least], f.ranges...)
		load[least] += f.bytes
	}
	return shards
}

// fetchShard fetches one list of ranges over one connection and returns
// the ranges the server refused.
func (c *Client) fetchShard(ctx context.Context, rs []source.Range, sink source.Sink) ([]refusal, error) {
	conn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sent := make(chan error, 1)
	go func() { sent <- sendRanges(conn, rs) }()
	refused, err := c.receive(conn, rs, sink)
	conn.Close()
	// A failed send shows in the answers too (the connection broke, or
	// the server refused a frame with an error frame); once the done
	// frame came, the server had every range, whatever the sender saw
	// while the connection closed.
	<-sent
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("fetch from stream server at %s: %w", c.addr, ctx.Err())
	}
	return refused, err
}

// sendRanges writes the ranges frames and the end frame.
func sendRanges(conn net.Conn, rs []source.Range) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	for len(rs) > 0 {
		n := min(len(rs), maxRangesPerFrame)
		if err := writeFrame(w, frameRanges, encodeRanges(rs[:n])); err != nil {
			return err
		}
		// Each frame goes out at once, so the server starts on the
		// first while the rest are encoded.
		if err := w.Flush(); err != nil {
			return err
		}
		rs = rs[n:]
	}
	if err := writeFrame(w, frameEnd, nil); err != nil {
		return err
	}
	return w.Flush()
}

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

// receive reads the zstd stream of answers and checks that they answer the
// ranges in order; it returns the ranges the server refused.
func (c *Client) receive(conn net.Conn, rs []source.Range, sink source.Sink) ([]refusal, error) {
	dec, err := zstd.NewReader(countingReader{r: bufio.NewReaderSize(conn, 256<<10), n: &c.transferred},
		zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return nil, fmt.Errorf("start decompressor: %w", err)
	}
	defer dec.Close()
	v := verifier{ranges: rs}
	var refused []refusal
	buf := make([]byte, maxFrame)
	for {
		typ, p, err := readFrame(dec, buf)
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
