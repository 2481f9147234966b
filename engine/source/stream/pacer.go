package stream

import (
	"math"
	"sync"
	"time"
)

// pacerDecay is how much of its past the pacer's measure of the
// compressors keeps at each new frame: about the last eight count.
const pacerDecay = 0.875

// linkWindow is about how many of the last bytes written the pacer's
// measure of the link covers. It is larger than the socket's send buffer
// and a relay's (a few MiB): writes into a buffer with room return at
// once even on a slow link, and only over more bytes than the buffers
// hold does the time spent writing tell the link's speed.
const linkWindow = 16 << 20

// pacerMargin is how much faster compressing must promise to be than
// sending raw before the pacer compresses: on a link about as fast as the
// compressors, the CPU both sides would spend buys nothing.
const pacerMargin = 1.5

// pacer decides, frame by frame, whether the server compresses. It
// compares how fast the connection takes bytes (measured on every write:
// a write that blocks is a link, a relay or a client that does not keep
// up) with how fast the compressors go and how much they save. Raw frames
// on a fast link write at memory speed, so the link rate is high and the
// frames stay raw; on a slow link the writes block, the rate falls below
// what the compressors deliver and the frames are compressed. Compressed
// frames go on measuring the link, so a link that turns out fast sends
// the stream back to raw. A server keeps one for all its connections:
// they serve one rewind and share one link, and what one connection's
// blocked writes found out spares the others finding it out with raw
// frames of their own.
type pacer struct {
	mode    Compression
	workers int

	mu sync.Mutex
	// Decayed sums: bytes written and seconds spent writing them; bytes
	// into and out of the compressors and seconds spent per frame.
	wireBytes, writeSecs    float64
	plainBytes, packedBytes float64
	compressSecs            float64
}

func newPacer(mode Compression, workers int) *pacer {
	return &pacer{mode: mode, workers: max(workers, 1)}
}

// compress says whether the next frame, of n bytes, is to be compressed.
// Until both the link and the compressors have been measured it
// compresses: the cost of that on a fast link is a few frames' CPU, the
// cost of raw frames on a slow link whole seconds.
func (p *pacer) compress(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case CompressAlways:
		return true
	case CompressNever:
		return false
	}
	if n < smallFrame {
		return false
	}
	if p.writeSecs == 0 || p.compressSecs == 0 || p.plainBytes == 0 {
		return true
	}
	link := p.wireBytes / p.writeSecs                          // bytes a second the connection takes
	pool := p.plainBytes / p.compressSecs * float64(p.workers) // bytes a second the compressors take
	ratio := p.packedBytes / p.plainBytes
	// Compressed, the stream moves min(pool, link/ratio) bytes of frames
	// a second; raw, link.
	return min(pool, link/ratio) > pacerMargin*link
}

// wrote records a write of n bytes to the connection that took d.
func (p *pacer) wrote(n int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := math.Exp(-float64(n) / linkWindow)
	p.wireBytes = p.wireBytes*keep + float64(n)
	p.writeSecs = p.writeSecs*keep + max(d.Seconds(), 1e-9)
}

// compressed records a frame of plain bytes compressed to packed bytes
// in d by one worker.
func (p *pacer) compressed(plain, packed int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plainBytes = p.plainBytes*pacerDecay + float64(plain)
	p.packedBytes = p.packedBytes*pacerDecay + float64(packed)
	p.compressSecs = p.compressSecs*pacerDecay + max(d.Seconds(), 1e-9)
}
