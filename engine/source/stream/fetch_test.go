package stream

import (
	"context"
	"encoding/binary"
	"io"
	"net"
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
			opening := make([]byte, len(Magic)+TokenSize+5+2)
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

// compressed writes frames into a zstd stream on w; cut, when positive,
// stops the raw stream after that many bytes.
func compressed(frames func(w io.Writer), cut int) func(w io.Writer) {
	return func(w io.Writer) {
		var buf strings.Builder
		enc, _ := zstd.NewWriter(&buf)
		frames(enc)
		enc.Close()
		raw := buf.String()
		if cut > 0 {
			raw = raw[:min(cut, len(raw))]
		}
		io.WriteString(w, raw)
	}
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
		{"garbage instead of zstd", func(w io.Writer) { io.WriteString(w, strings.Repeat("garbage!", 100)) },
			`stream server at fake:1 sent garbage while fetching "base/5/1"`},
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
			io.ReadFull(server, make([]byte, len(Magic)+TokenSize+7))
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
	ranges := []source.Range{{Path: "base/5/1", Length: 8192}, {Path: "base/5/2", Offset: 8192, Length: 8192}}
	c := NewClient("fake:1", make([]byte, TokenSize), fakeServer(t, compressed(func(w io.Writer) {
		writeData(w, "base/5/1", 0, pieceLast, make([]byte, 8192))
		writeData(w, "base/5/2", 8192, pieceVanished|pieceLast, nil)
		writeFrame(w, frameDone, nil)
	}, 0)))
	col := newCollector()
	if err := c.Fetch(context.Background(), ranges, col.sink); err != nil {
		t.Fatal(err)
	}
	if len(col.files["base/5/1"]) != 8192 || !col.vanished["base/5/2"] {
		t.Fatalf("files %d bytes, vanished %v", len(col.files["base/5/1"]), col.vanished)
	}
}
