package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// outBufs recycles the buffers compressed envelopes are built in.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, MaxPiece/2); return &b }}

// pending is an answer on its way to the sender: compressed by a worker,
// which delivers the envelope on done, or sent raw (done is nil).
type pending struct {
	a    answer
	done chan *[]byte
}

// smallFrame is the size below which a frame is always sent raw in auto
// mode: compressing it cannot save a measurable time.
const smallFrame = 256

// compress sends the answers in order, each in an envelope of its own,
// zstd-compressed or raw as the pacer decides frame by frame. Compressed
// envelopes are built concurrently on every CPU: each holds an
// independent zstd frame, so they need no shared history and nothing
// waits in the compressor for a flush. The stream ends with a done frame,
// or with an error frame; either way cancel stops the rest.
func (s *Server) compress(ctx context.Context, cancel func(), conn net.Conn, answers <-chan answer, mode Compression) error {
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
	pc := s.pacer(mode, workers)
	queue := make(chan pending, 2*workers)
	go func() {
		defer close(queue)
		for a := range answers {
			if ctx.Err() != nil {
				a.release()
				continue
			}
			frame := answerFrame(a)
			if !pc.compress(len(frame)) {
				queue <- pending{a: a}
				continue
			}
			p := pending{a: a, done: make(chan *[]byte, 1)}
			queue <- p
			enc := <-encoders
			go func() {
				p.done <- encodeAnswer(enc, frame, p.a, pc)
				encoders <- enc
			}()
		}
	}()
	err := s.send(conn, queue, pc)
	cancel()
	for p := range queue {
		if p.done == nil {
			p.a.release()
			continue
		}
		outBufs.Put(<-p.done)
	}
	return err
}

// pacer returns the server's pacer for connections in auto mode, made by
// the first, and a pacer of their own for the others.
func (s *Server) pacer(mode Compression, workers int) *pacer {
	if mode != CompressAuto {
		return newPacer(mode, workers)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pace == nil {
		s.pace = newPacer(CompressAuto, workers)
	}
	return s.pace
}

// answerFrame is the protocol frame an answer stands for.
func answerFrame(a answer) []byte {
	switch {
	case a.err != nil:
		payload := errorFrame(a.err.Code, a.err.Text)
		var hdr encoder
		hdr.u8(frameError)
		hdr.u32(uint32(len(payload)))
		return append(hdr.b, payload...)
	case a.end:
		return []byte{frameDone, 0, 0, 0, 0}
	}
	return a.frame
}

// encodeAnswer compresses one answer's frame into a pooled buffer, as a
// whole envelope, and tells the pacer how fast the compressor went.
func encodeAnswer(enc *zstd.Encoder, frame []byte, a answer, pc *pacer) *[]byte {
	start := time.Now()
	out := outBufs.Get().(*[]byte)
	env := append((*out)[:0], envelopeZstd, 0, 0, 0, 0)
	env = enc.EncodeAll(frame, env)
	putEnvelopeLen(env)
	*out = env
	pc.compressed(len(frame), len(env), time.Since(start))
	a.release()
	return out
}

// send writes the envelopes in their order until the done or error
// frame, timing each write for the pacer.
func (s *Server) send(conn net.Conn, queue <-chan pending, pc *pacer) error {
	for p := range queue {
		var n int
		var err error
		if p.done != nil {
			out := <-p.done
			start := time.Now()
			n, err = conn.Write(*out)
			pc.wrote(n, time.Since(start))
			outBufs.Put(out)
		} else {
			frame := answerFrame(p.a)
			hdr := envelopeHeader(envelopeRaw, len(frame))
			bufs := net.Buffers{hdr[:], frame}
			start := time.Now()
			var n64 int64
			n64, err = bufs.WriteTo(conn)
			n = int(n64)
			pc.wrote(n, time.Since(start))
			p.a.release()
		}
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
