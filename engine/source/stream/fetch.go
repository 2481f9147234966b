package stream

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"

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
