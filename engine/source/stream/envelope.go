package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Envelope kinds: every frame the server sends after the identity is in
// an envelope that says how it travels.
const (
	// envelopeRaw holds one frame as it is.
	envelopeRaw byte = 'r'
	// envelopeZstd holds one frame as one independent zstd frame.
	envelopeZstd byte = 'z'
)

// maxEnvelope bounds an envelope's body: a whole frame, or its zstd frame,
// which for incompressible data is a little larger than the frame.
const maxEnvelope = 5 + maxFrame + 64<<10

// errBadEnvelope is an envelope that is not one: unknown kind, too long,
// or a body that is not exactly one frame.
var errBadEnvelope = errors.New("bad envelope")

// envelopeHeader is an envelope's kind and 4-byte big-endian body length.
func envelopeHeader(kind byte, n int) [5]byte {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	return hdr
}

// putEnvelopeLen fills in the length of an envelope built in place, its
// header first.
func putEnvelopeLen(env []byte) {
	binary.BigEndian.PutUint32(env[1:5], uint32(len(env)-5))
}

// envelopeReader reads the frames out of the envelopes on r.
type envelopeReader struct {
	r    io.Reader
	dec  *zstd.Decoder
	body []byte
	out  []byte
	// raw and zstd count the envelopes of each kind read.
	raw, zstd int
}

func newEnvelopeReader(r io.Reader) (*envelopeReader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20),
		zstd.WithDecoderMaxMemory(maxFrame+5))
	if err != nil {
		return nil, fmt.Errorf("start decompressor: %w", err)
	}
	return &envelopeReader{r: r, dec: dec, body: make([]byte, 0, maxEnvelope), out: make([]byte, 0, maxFrame+5)}, nil
}

func (e *envelopeReader) close() { e.dec.Close() }

// next reads one envelope and returns its frame's type and payload, which
// alias the reader's buffers until the next call.
func (e *envelopeReader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(e.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if hdr[0] != envelopeRaw && hdr[0] != envelopeZstd {
		return 0, nil, fmt.Errorf("%w: unknown kind 0x%02x", errBadEnvelope, hdr[0])
	}
	if n > maxEnvelope {
		return 0, nil, fmt.Errorf("%w: %d bytes", errBadEnvelope, n)
	}
	body := e.body[:n]
	if _, err := io.ReadFull(e.r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	frame := body
	if hdr[0] == envelopeZstd {
		e.zstd++
		out, err := e.dec.DecodeAll(body, e.out[:0])
		if err != nil {
			return 0, nil, fmt.Errorf("%w: decompress: %w", errBadEnvelope, err)
		}
		frame = out
	} else {
		e.raw++
	}
	if len(frame) < 5 {
		return 0, nil, fmt.Errorf("%w: %d bytes, not a frame", errBadEnvelope, len(frame))
	}
	size := binary.BigEndian.Uint32(frame[1:5])
	switch {
	case size > maxFrame:
		return 0, nil, fmt.Errorf("%w: frame %q of %d bytes", errFrameTooLarge, frame[0], size)
	case int(size) != len(frame)-5:
		return 0, nil, fmt.Errorf("%w: frame %q of %d bytes in %d", errBadEnvelope, frame[0], size, len(frame)-5)
	}
	return frame[0], frame[5:], nil
}
