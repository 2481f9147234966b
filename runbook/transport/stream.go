package transport

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
)

// frameSize is the largest stdin frame sent to the watchdog; it matches the
// SSH channel packet size so that one frame is one packet.
const frameSize = 32 * 1024

// writeFramed copies r to w in the watchdog's stdin frames ("LEN\n" and LEN
// bytes) and ends with the "0\n" frame that closes the command's stdin. It
// never closes w: for the watchdog, EOF means the channel is gone. A nil r
// sends the end frame only.
func writeFramed(w io.Writer, r io.Reader) error {
	if r != nil {
		buf := make([]byte, frameSize)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				frame := append([]byte(strconv.Itoa(n)+"\n"), buf[:n]...)
				if _, werr := w.Write(frame); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	_, err := io.WriteString(w, "0\n")
	return err
}

// readBufs recycles drainLines' read buffers: every command drains two
// streams, and most print nothing, so allocating and zeroing two fresh
// packet-sized buffers per command was a visible part of a step's client
// CPU.
var readBufs = sync.Pool{New: func() any { b := make([]byte, frameSize); return &b }}

// drainLines reads r to its end, calls fn (when set) with each line as it
// arrives, without its newline, and returns everything read. A last line
// without a newline is passed to fn too. Reading never stops early, even
// when fn is nil: stdout and stderr share one SSH flow-control window, so an
// unread stream would stall the remote command.
func drainLines(r io.Reader, fn func(line string)) (string, error) {
	var all strings.Builder
	var partial []byte
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			all.Write(buf[:n])
			if fn != nil {
				partial = append(partial, buf[:n]...)
				for {
					i := bytes.IndexByte(partial, '\n')
					if i < 0 {
						break
					}
					fn(string(partial[:i]))
					partial = partial[i+1:]
				}
			}
		}
		if err != nil {
			if fn != nil && len(partial) > 0 {
				fn(string(partial))
			}
			if errors.Is(err, io.EOF) {
				return all.String(), nil
			}
			return all.String(), err
		}
	}
}
