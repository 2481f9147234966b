package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic opens every connection, before the token; a peer that is not a
// stream client (a port scanner, a stray psql) is dropped at once.
const Magic = "PGRBSTR1"

// Version is the protocol version the hello carries.
const Version = 2

// Frame types. Client to server: hello, ranges, end. Server to client:
// identity and error before the compressed stream starts; data, done and
// error inside it.
const (
	frameHello    byte = 'H'
	frameRanges   byte = 'R'
	frameEnd      byte = 'E'
	frameIdentity byte = 'I'
	frameData     byte = 'D'
	frameDone     byte = 'Z'
	frameError    byte = 'X'
)

// MaxPiece is the most file data one data frame carries: ranges are
// answered in pieces of at most this many bytes, so neither side ever
// holds more than a few of them.
const MaxPiece = 1 << 20

// maxFrame bounds a frame's payload; a larger length is garbage, refused
// before anything is allocated for it.
const maxFrame = MaxPiece + 64<<10

// maxRangesPerFrame is how many ranges one ranges frame carries; a long
// list goes in several frames, so the server starts on the first while
// the client still sends.
const maxRangesPerFrame = 512

// Data piece flags.
const (
	// pieceLast ends the answer to one range.
	pieceLast byte = 1 << 0
	// pieceVanished says the file does not exist (any more); the piece
	// carries no data and is the last of its range.
	pieceVanished byte = 1 << 1
	// pieceRefused says the server will not open the file because it
	// lies outside PGDATA (a symbolic link other than a tablespace's or
	// pg_wal); the piece carries the reason instead of data and is the
	// last of its range. The client fetches such files another way.
	pieceRefused byte = 1 << 2
)

// Error codes of an error frame.
const (
	// codeToken: the token was wrong; the server drops the connection.
	codeToken byte = 1
	// codeRequest: the client sent something the server cannot serve
	// (an unsafe path, a malformed frame).
	codeRequest byte = 2
	// codeRead: reading a file failed on the server.
	codeRead byte = 3
)

// errFrameTooLarge is a length prefix beyond maxFrame.
var errFrameTooLarge = errors.New("frame too large")

// writeFrame writes one frame: type, 4-byte big-endian payload length,
// payload.
func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if len(payload) == 0 {
		return nil
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one frame into buf (grown as needed) and returns its type
// and payload, which aliases buf.
func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w: frame %q of %d bytes", errFrameTooLarge, hdr[0], n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], buf, nil
}

// decoder reads fixed-size fields from a payload and remembers the first
// shortfall, so that a truncated payload is one error at the end.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || len(d.b) < n {
		d.bad = true
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte      { return d.take(1)[0] }
func (d *decoder) u16() uint16   { return binary.BigEndian.Uint16(d.take(2)) }
func (d *decoder) u32() uint32   { return binary.BigEndian.Uint32(d.take(4)) }
func (d *decoder) u64() uint64   { return binary.BigEndian.Uint64(d.take(8)) }
func (d *decoder) i64() int64    { return int64(d.u64()) }
func (d *decoder) str16() string { return string(d.take(int(d.u16()))) }

// rest is what is left of the payload.
func (d *decoder) rest() []byte {
	v := d.b
	d.b = nil
	return v
}

// done reports a shortfall, or bytes left over that the frame should not
// have.
func (d *decoder) done(what string) error {
	if d.bad {
		return fmt.Errorf("truncated %s frame", what)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%s frame has %d bytes too many", what, len(d.b))
	}
	return nil
}

// encoder appends fields to a payload.
type encoder struct{ b []byte }

func (e *encoder) u8(v byte)    { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) str16(s string) {
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

// errorFrame is an error frame's payload: a code and the server's text.
func errorFrame(code byte, text string) []byte {
	e := encoder{}
	e.u8(code)
	e.b = append(e.b, text...)
	return e.b
}

// ServerError is an error frame received from the server: the server-side
// failure, in the server's words.
type ServerError struct {
	// Code says what kind of failure it is (token, request or read).
	Code byte
	// Text is the server's message, such as
	// "read base/5/1234: permission denied".
	Text string
}

func (e *ServerError) Error() string { return e.Text }

// parseError decodes an error frame's payload.
func parseError(p []byte) *ServerError {
	if len(p) == 0 {
		return &ServerError{Text: "error frame without a code"}
	}
	return &ServerError{Code: p[0], Text: string(p[1:])}
}
