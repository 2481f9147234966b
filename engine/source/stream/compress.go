package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// outBufs recycles the buffers compressed frames are built in.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, MaxPiece/2); return &b }}

// pending is an answer being compressed; done delivers the result.
type pending struct {
	a    answer
	done chan *[]byte
}

// compress sends the answers in order as a zstd stream made of one zstd
// frame per answer, compressed concurrently on every CPU: frames are
// independent, so they need no shared history, and the decoder reads the
// concatenation as one stream. A frame is complete when it is sent, so
// nothing waits in the compressor for a flush. The stream ends with a
// done frame, or with an error frame; either way cancel stops the rest.
func (s *Server) compress(ctx context.Context, cancel func(), conn net.Conn, answers <-chan answer) error {
	workers := runtime.GOMAXPROCS(0)
	// One single-threaded encoder per worker: EncodeAll on a shared
	// concurrent encoder was slower per call.
	encoders := make(chan *zstd.Encoder, workers)
	for range workers {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(MaxPiece), zstd.WithEncoderCRC(false))
		if err != nil {
			cancel()
			return fmt.Errorf("start compressor: %w", err)
		}
		encoders <- enc
	}
	queue := make(chan pending, 2*workers)
	go func() {
		defer close(queue)
		for a := range answers {
			if ctx.Err() != nil {
				a.release()
				continue
			}
			p := pending{a: a, done: make(chan *[]byte, 1)}
			queue <- p
			enc := <-encoders
			go func() {
				p.done <- encodeAnswer(enc, p.a)
				encoders <- enc
			}()
		}
	}()
	err := s.send(conn, queue)
	cancel()
	for p := range queue {
		outBufs.Put(<-p.done)
	}
	return err
}

// encodeAnswer compresses one answer's frame into a pooled buffer.
func encodeAnswer(enc *zstd.Encoder, a answer) *[]byte {
	frame := a.frame
	switch {
	case a.err != nil:
		frame = nil
		var hdr encoder
		payload := errorFrame(a.err.Code, a.err.Text)
		hdr.u8(frameError)
		hdr.u32(uint32(len(payload)))
		frame = append(hdr.b, payload...)
	case a.end:
		frame = []byte{frameDone, 0, 0, 0, 0}
	}
	out := outBufs.Get().(*[]byte)
	*out = enc.EncodeAll(frame, (*out)[:0])
	a.release()
	return out
}

// send writes the compressed frames in their order until the done or
// error frame.
func (s *Server) send(conn net.Conn, queue <-chan pending) error {
	for p := range queue {
		out := <-p.done
		_, err := conn.Write(*out)
		outBufs.Put(out)
		switch {
		case err != nil:
			return fmt.Errorf("send: %w", err)
		case p.a.err != nil:
			s.logf("%s", p.a.err.Text)
			return errors.New(p.a.err.Text)
		case p.a.end:
			return nil
		}
	}
	// The client left before its end frame.
	return nil
}
