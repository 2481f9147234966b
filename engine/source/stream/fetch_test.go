package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// fakeServer answers one connection through a net.Pipe: it reads the
// client's opening, sends a good identity, drains the requests and then
// lets answer write whatever the case needs.
func fakeServer(t *testing.T, answer func(w io.Writer)) ClientOptions {
	return ClientOptions{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			opening := make([]byte, len(Magic)+TokenSize+5+3)
			if _, err := io.ReadFull(server, opening); err != nil {
				return
			}
			if err := writeFrame(server, frameIdentity, encodeIdentity(Identity{SystemIdentifier: 1, Running: true})); err != nil {
				return
			}
			go io.Copy(io.Discard, server)
			answer(server)
		}()
		return client, nil
	}}
}

// enveloped writes the frames that frames writes each in an envelope on
// w, the kinds taken in turn from kinds (a kind 'z' is zstd-compressed,
// any other is written as it is); cut, when positive, stops the stream
// after that many bytes. A frame whose length runs past the end goes in
// an envelope with what there is.
func enveloped(kinds string, frames func(w io.Writer), cut int) func(w io.Writer) {
	return func(w io.Writer) {
		var plain bytes.Buffer
		frames(&plain)
		b := plain.Bytes()
		enc, _ := zstd.NewWriter(nil)
		var out []byte
		for i := 0; len(b) > 0; i++ {
			n := len(b)
			if len(b) >= 5 {
				n = min(n, 5+int(binary.BigEndian.Uint32(b[1:5])))
			}
			frame := b[:n]
			b = b[n:]
			kind := kinds[i%len(kinds)]
			if kind == envelopeZstd {
				frame = enc.EncodeAll(frame, nil)
			}
			hdr := envelopeHeader(kind, len(frame))
			out = append(append(out, hdr[:]...), frame...)
		}
		if cut > 0 {
			out = out[:min(cut, len(out))]
		}
		w.Write(out)
	}
}

// compressed envelopes every frame with zstd.
func compressed(frames func(w io.Writer), cut int) func(w io.Writer) {
	return enveloped("z", frames, cut)
}

func writeData(w io.Writer, path string, off int64, flags byte, data []byte) {
	w.Write(dataFrame(nil, path, off, flags, len(data)))
	w.Write(data)
}

func TestFetchBadStreams(t *testing.T) {
	ranges := []source.Range{{Path: "base/5/1", Length: 8192}, {Path: "base/5/2", Length: 8192}}
	block := make([]byte, 8192)
	cases := []struct {
		name   string
		answer func(w io.Writer)
		want   string
	}{
		{"connection closed after the identity", func(io.Writer) {}, `stream from fake:1 lost while fetching "base/5/1": unexpected EOF`},
		{"truncated stream", compressed(func(w io.Writer) {
			writeData(w, "base/5/1", 0, pieceLast, block)
			writeData(w, "base/5/2", 0, pieceLast, block)
			writeFrame(w, frameDone, nil)
		}, 30), `stream from fake:1 lost while fetching "base/5/1"`},
		{"garbage instead of envelopes", func(w io.Writer) { io.WriteString(w, strings.Repeat("garbage!", 100)) },
			`stream server at fake:1 sent garbage while fetching "base/5/1": bad envelope: unknown kind 0x67`},
		{"unknown envelope kind after good ones", enveloped("rzR", func(w io.Writer) {
			writeData(w, "base/5/1", 0, pieceLast, block)
			writeData(w, "base/5/2", 0, 0, block[:100])
			writeData(w, "base/5/2", 100, pieceLast, block[:100])
		}, 0), `sent garbage while fetching "base/5/2": bad envelope: unknown kind 0x52`},
		{"envelope too large", func(w io.Writer) {
			hdr := envelopeHeader(envelopeRaw, 64<<20)
			w.Write(hdr[:])
		}, `sent garbage while fetching "base/5/1": bad envelope: 67108864 bytes`},
		{"zstd envelope that does not decompress", func(w io.Writer) {
			hdr := envelopeHeader(envelopeZstd, 16)
			w.Write(hdr[:])
			io.WriteString(w, "not a zstd frame")
		}, `sent garbage while fetching "base/5/1": bad envelope: decompress`},
		{"two frames in one envelope", func(w io.Writer) {
			var two bytes.Buffer
			writeData(&two, "base/5/1", 0, pieceLast, block)
			writeFrame(&two, frameDone, nil)
			hdr := envelopeHeader(envelopeRaw, two.Len())
			w.Write(hdr[:])
			w.Write(two.Bytes())
		}, `sent garbage while fetching "base/5/1": bad envelope: frame 'D' of 8211 bytes in 8216`},
		{"envelope shorter than a frame header", func(w io.Writer) {
			hdr := envelopeHeader(envelopeRaw, 3)
			w.Write(hdr[:])
			w.Write([]byte{frameDone, 0, 0})
		}, `bad envelope: 3 bytes, not a frame`},
		{"unknown frame", compressed(func(w io.Writer) {
			writeData(w, "base/5/1", 0, pieceLast, block)
			writeFrame(w, 'Q', []byte("?"))
		}, 0), `stream server at fake:1 sent an unknown frame type 0x51 while fetching "base/5/2"`},
		{"frame too large", compressed(func(w io.Writer) {
			var hdr [5]byte
			hdr[0] = frameData
			binary.BigEndian.PutUint32(hdr[1:], 1<<30)
			w.Write(hdr[:])
		}, 0), "sent garbage while fetching \"base/5/1\": frame too large"},
		{"another file's data", compressed(func(w io.Writer) {
			writeData(w, "base/5/2", 0, pieceLast, block)
		}, 0), `bad answer while fetching "base/5/1": data for file "base/5/2", when "base/5/1" was requested`},
		{"more than requested", compressed(func(w io.Writer) {
			writeData(w, "base/5/1", 0, 0, block)
			writeData(w, "base/5/1", 8192, pieceLast, block[:1])
		}, 0), `more data than requested for file "base/5/1"`},
		{"a gap", compressed(func(w io.Writer) {
			writeData(w, "base/5/1", 0, 0, block[:100])
			writeData(w, "base/5/1", 200, pieceLast, block[:100])
		}, 0), `data at offset 200 of file "base/5/1", when offset 100 was due`},
		{"done too early", compressed(func(w io.Writer) {
			writeData(w, "base/5/1", 0, pieceLast, block)
			writeFrame(w, frameDone, nil)
		}, 0), "stream server at fake:1 ended its answers after 1 of 2 ranges"},
		{"error frame", compressed(func(w io.Writer) {
			writeFrame(w, frameError, errorFrame(codeRead, "read base/5/1: permission denied"))
		}, 0), "stream server at fake:1: read base/5/1: permission denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient("fake:1", make([]byte, TokenSize), fakeServer(t, tc.answer))
			err := c.Fetch(context.Background(), ranges, newCollector().sink)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch error %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFetchGood is the fake server's control case: a well-formed answer.
// TestHandshakeClosed checks the message when the far end of the port
// closes without a word, as an SSH forward does when nothing serves its
// target.
func TestHandshakeClosed(t *testing.T) {
	c := NewClient("127.0.0.1:7", make([]byte, TokenSize), ClientOptions{Dial: func(context.Context, string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			io.ReadFull(server, make([]byte, len(Magic)+TokenSize+8))
			server.Close()
		}()
		return client, nil
	}})
	_, err := c.Identity(context.Background())
	want := "stream server at 127.0.0.1:7: read identity: the connection was closed without an answer (is rewind-serve listening at the far end?): EOF"
	if err == nil || err.Error() != want {
		t.Fatalf("Identity: %v\nwant %s", err, want)
	}
}

func TestFetchGood(t *testing.T) {
	ranges := []source.Range{{Path: "base/5/1", Length: 3 * 8192}, {Path: "base/5/2", Offset: 8192, Length: 8192}}
	block := func(b byte) []byte { return bytes.Repeat([]byte{b}, 8192) }
	for _, kinds := range []string{"z", "r", "rz", "zzr"} {
		t.Run(kinds, func(t *testing.T) {
			c := NewClient("fake:1", make([]byte, TokenSize), fakeServer(t, enveloped(kinds, func(w io.Writer) {
				writeData(w, "base/5/1", 0, 0, block(1))
				writeData(w, "base/5/1", 8192, 0, block(2))
				writeData(w, "base/5/1", 2*8192, pieceLast, block(3))
				writeData(w, "base/5/2", 8192, pieceVanished|pieceLast, nil)
				writeFrame(w, frameDone, nil)
			}, 0)))
			col := newCollector()
			if err := c.Fetch(context.Background(), ranges, col.sink); err != nil {
				t.Fatal(err)
			}
			want := slices.Concat(block(1), block(2), block(3))
			if !bytes.Equal(col.files["base/5/1"], want) || !col.vanished["base/5/2"] {
				t.Fatalf("files %d bytes (want %d, the three blocks in order), vanished %v", len(col.files["base/5/1"]), len(want), col.vanished)
			}
			raw, packed := c.envelopesRaw.Load(), c.envelopesZstd.Load()
			wantRaw := int64(strings.Count(strings.Repeat(kinds, 5)[:5], "r"))
			if raw != wantRaw || raw+packed != 5 {
				t.Errorf("received %d raw and %d compressed envelopes; want %d raw of 5", raw, packed, wantRaw)
			}
		})
	}
}
