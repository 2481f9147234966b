package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

const testSysID = 7311111111111111111

// fakeDataDir builds a PGDATA with what the server reads: pg_control,
// postmaster.pid, relation files, a tablespace link, a link that escapes
// and a directory where a file is expected.
func fakeDataDir(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	ctl := make([]byte, 8192)
	binary.NativeEndian.PutUint64(ctl, testSysID)
	files["global/pg_control"] = ctl
	files["base/5/16384"] = bytes.Repeat([]byte("pgbench filler "), 200000) // 3 MB, compressible
	files["base/5/16385"] = random(3*MaxPiece + 100)
	files["base/5/exact"] = random(2 * MaxPiece)
	files["base/5/empty"] = nil
	files["postgresql.conf"] = []byte("port = 5432\n")
	tbs := t.TempDir()
	files["pg_tblspc/16400/PG_15_1/5/16401"] = random(20000)
	for rel, b := range files {
		root := dir
		if strings.HasPrefix(rel, "pg_tblspc/16400/") {
			root = tbs
			rel = strings.TrimPrefix(rel, "pg_tblspc/16400/")
		}
		p := filepath.Join(root, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o700))
		must(t, os.WriteFile(p, b, 0o600))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "pg_tblspc"), 0o700))
	must(t, os.Symlink(tbs, filepath.Join(dir, "pg_tblspc", "16400")))
	secret := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(secret, []byte("outside"), 0o600))
	must(t, os.Symlink(secret, filepath.Join(dir, "base", "5", "escape")))
	must(t, os.Mkdir(filepath.Join(dir, "base", "5", "dir"), 0o700))
	pid := fmt.Sprintf("4242\n%s\n1764200000\n5433\n/var/run/postgresql\n*\n  5433001         0\nready   \n", dir)
	must(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(pid), 0o600))
	return dir, files
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startServer serves dir on a loopback port until the test ends.
func startServer(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	token, _, err := NewToken()
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	serveOn(t, dir, token, ln)
	return ln.Addr().String(), token
}

// serveOn serves dir on ln until the test ends.
func serveOn(t *testing.T, dir string, token []byte, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{DataDir: dir, Token: token, Logf: t.Logf}
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// collector is a sink that rebuilds the files and checks the Sink rules;
// it may be called from several goroutines.
type collector struct {
	mu       sync.Mutex
	files    map[string][]byte
	vanished map[string]bool
	calls    int
}

func newCollector() *collector {
	return &collector{files: map[string][]byte{}, vanished: map[string]bool{}}
}

func (c *collector) sink(path string, off int64, data []byte, vanished bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if vanished {
		c.vanished[path] = true
		return nil
	}
	if len(data) > MaxPiece {
		return fmt.Errorf("chunk of %d bytes", len(data))
	}
	b := c.files[path]
	if len(data) == 0 {
		c.files[path] = b
		return nil
	}
	if end := off + int64(len(data)); int64(len(b)) < end {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], data)
	c.files[path] = b
	return nil
}

func TestFetchRoundTrip(t *testing.T) {
	t.Parallel()
	dir, files := fakeDataDir(t)
	addr, token := startServer(t, dir)
	for _, mode := range []Compression{CompressAuto, CompressAlways, CompressNever} {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s jobs %d", mode, jobs), func(t *testing.T) {
				testFetchRoundTrip(t, addr, token, dir, files, jobs, mode)
			})
		}
	}
}

func testFetchRoundTrip(t *testing.T, addr string, token []byte, dir string, files map[string][]byte, jobs int, mode Compression) {
	c := NewClient(addr, token, ClientOptions{Jobs: jobs, Compress: mode})
	defer c.Close()
	id, err := c.Identity(context.Background())
	must(t, err)
	if id.SystemIdentifier != testSysID || !id.Running || id.Port != 5433 || id.StartTime.Unix() != 1764200000 || id.DataDir != dir {
		t.Fatalf("identity %+v", id)
	}
	var ranges []source.Range
	for b := int64(0); b < 40; b++ { // adjacent blocks, merged
		ranges = append(ranges, source.Range{Path: "base/5/16385", Offset: (10 + b) * 8192, Length: 8192})
	}
	ranges = append(ranges,
		source.Range{Path: "base/5/16384", Length: 1000, Whole: true},       // grew since the listing
		source.Range{Path: "postgresql.conf", Length: 1 << 20, Whole: true}, // shrank
		source.Range{Path: "base/5/exact", Length: 2 * MaxPiece, Whole: true},
		source.Range{Path: "base/5/empty", Whole: true},
		source.Range{Path: "base/5/gone", Length: 8192, Whole: true},
		source.Range{Path: "base/5/gone2", Offset: 8192, Length: 8192},
		source.Range{Path: "pg_tblspc/16400/PG_15_1/5/16401", Offset: 16384, Length: 8192}, // short: 3616 bytes
		source.Range{Path: "base/5/16385", Offset: 3*MaxPiece + 100, Length: 8192},         // past the end
	)
	col := newCollector()
	must(t, c.Fetch(context.Background(), ranges, col.sink))

	want16385 := files["base/5/16385"][10*8192 : 50*8192]
	if got := col.files["base/5/16385"]; len(got) != 50*8192 || !bytes.Equal(got[10*8192:], want16385) {
		t.Errorf("blocks of base/5/16385 differ (%d bytes)", len(got))
	}
	for _, p := range []string{"base/5/16384", "postgresql.conf", "base/5/exact"} {
		if !bytes.Equal(col.files[p], files[p]) {
			t.Errorf("%s: %d bytes, want the file as it is (%d bytes)", p, len(col.files[p]), len(files[p]))
		}
	}
	if len(col.files["base/5/empty"]) != 0 {
		t.Errorf("base/5/empty: got %d bytes", len(col.files["base/5/empty"]))
	}
	if !col.vanished["base/5/gone"] || !col.vanished["base/5/gone2"] || len(col.vanished) != 2 {
		t.Errorf("vanished %v, want base/5/gone and base/5/gone2", col.vanished)
	}
	tb := col.files["pg_tblspc/16400/PG_15_1/5/16401"]
	if len(tb) != 20000 || !bytes.Equal(tb[16384:], files["pg_tblspc/16400/PG_15_1/5/16401"][16384:]) {
		t.Errorf("tablespace range: %d bytes", len(tb))
	}
	// The file data fetched, without the frames' headers.
	data := int64(40*8192 + len(files["base/5/16384"]) + len("port = 5432\n") + len(files["base/5/exact"]) + 3616)
	tr := c.Transferred()
	switch mode {
	case CompressAlways:
		// base/5/16384 is 3 MB that compress to almost nothing.
		if tr <= 0 || tr > data-2<<20 {
			t.Errorf("Transferred = %d; want some, at least 2 MiB below the %d bytes of data, much of it compressible", tr, data)
		}
		if c.envelopesRaw.Load() != 0 {
			t.Errorf("%d frames came raw; want all compressed", c.envelopesRaw.Load())
		}
	case CompressNever:
		if tr < data {
			t.Errorf("Transferred = %d; want at least the %d bytes of data, all raw", tr, data)
		}
		if c.envelopesZstd.Load() != 0 {
			t.Errorf("%d frames came compressed; want all raw", c.envelopesZstd.Load())
		}
	default:
		if tr <= 0 {
			t.Errorf("Transferred = %d; want some", tr)
		}
	}
}

// TestFetchServerErrors checks that what the server cannot serve ends the
// fetch with the server's own words, and that the server goes on serving
// other connections.
func TestFetchServerErrors(t *testing.T) {
	t.Parallel()
	dir, _ := fakeDataDir(t)
	addr, token := startServer(t, dir)
	c := NewClient(addr, token, ClientOptions{})
	cases := []struct {
		name string
		r    source.Range
		want string
	}{
		{"a directory", source.Range{Path: "base/5/dir", Length: 8192}, "read base/5/dir: is a directory"},
		{"dot dot", source.Range{Path: "base/../../etc/passwd", Length: 7}, `unsafe path "base/../../etc/passwd"`},
		{"absolute", source.Range{Path: "/etc/passwd", Length: 7}, `unsafe path "/etc/passwd": absolute`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector()
			ranges := []source.Range{{Path: "base/5/16384", Length: 10}, tc.r, {Path: "base/5/16384", Offset: 10, Length: 10}}
			err := c.Fetch(context.Background(), ranges, col.sink)
			var se *ServerError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("Fetch error %v; want a server error with %q naming %s", err, tc.want, addr)
			}
			if len(col.files["base/5/16384"]) != 10 {
				t.Fatalf("the range before the failing one should have arrived: %d bytes", len(col.files["base/5/16384"]))
			}
		})
	}
}

func TestFetchBadToken(t *testing.T) {
	t.Parallel()
	dir, _ := fakeDataDir(t)
	addr, token := startServer(t, dir)
	wrong := bytes.Clone(token)
	wrong[0] ^= 1
	c := NewClient(addr, wrong, ClientOptions{})
	_, err := c.Identity(context.Background())
	if !errors.Is(err, ErrTokenRefused) || err.Error() != "stream server at "+addr+" refused the token" {
		t.Fatalf("Identity with a wrong token: %v", err)
	}
	err = c.Fetch(context.Background(), []source.Range{{Path: "base/5/16384", Length: 10}}, newCollector().sink)
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("Fetch with a wrong token: %v", err)
	}
	// The server still serves the right token.
	if _, err := NewClient(addr, token, ClientOptions{}).Identity(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestServeIdle checks that Serve returns by itself once no connection
// has been open for the idle timeout, and not while one is.
func TestServeIdle(t *testing.T) {
	t.Parallel()
	dir, _ := fakeDataDir(t)
	token, _, err := NewToken()
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &Server{DataDir: dir, Token: token, IdleTimeout: 300 * time.Millisecond}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Serve(context.Background(), ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	time.Sleep(600 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve ended (%v) while a connection was open", err)
	default:
	}
	conn.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("Serve ended after %s, before the idle timeout after the connection", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end when idle")
	}
}

// TestServeStopsWithOpenConnection checks that the end of Serve's context
// ends it at once even while a client holds a connection (the engine keeps
// the identity check's connection open for its fetch).
func TestServeStopsWithOpenConnection(t *testing.T) {
	t.Parallel()
	dir, _ := fakeDataDir(t)
	token, _, err := NewToken()
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{DataDir: dir, Token: token}).Serve(ctx, ln) }()
	c := NewClient(ln.Addr().String(), token, ClientOptions{})
	defer c.Close()
	if _, err := c.Identity(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not end with its context while a connection was open")
	}
	err = c.Fetch(context.Background(), []source.Range{{Path: "base/5/16384", Length: 10}}, newCollector().sink)
	if err == nil || !strings.Contains(err.Error(), "lost while fetching \"base/5/16384\"") {
		t.Fatalf("a fetch on the closed connection: %v", err)
	}
}

// TestFetchRefusedLink checks that a file behind a link out of PGDATA is
// not read by the server, fails the fetch without a fallback, and goes to
// the fallback with all its ranges, after the stream, when there is one.
func TestFetchRefusedLink(t *testing.T) {
	t.Parallel()
	dir, files := fakeDataDir(t)
	addr, token := startServer(t, dir)
	ranges := []source.Range{{Path: "base/5/16384", Length: 10}, {Path: "base/5/escape", Length: 3},
		{Path: "base/5/escape", Offset: 5, Length: 2}, {Path: "base/5/16384", Offset: 10, Length: 10}}

	err := NewClient(addr, token, ClientOptions{}).Fetch(context.Background(), ranges, newCollector().sink)
	if err == nil || err.Error() != "stream server at "+addr+": open base/5/escape: path escapes from parent (outside PGDATA)" {
		t.Fatalf("Fetch without a fallback: %v", err)
	}

	var fellBack []source.Range
	col := newCollector()
	c := NewClient(addr, token, ClientOptions{Fallback: func(_ context.Context, rs []source.Range, sink source.Sink) error {
		fellBack = rs
		return sink("base/5/escape", 0, []byte("out"), false)
	}})
	must(t, c.Fetch(context.Background(), ranges, col.sink))
	want := []source.Range{{Path: "base/5/escape", Length: 3}, {Path: "base/5/escape", Offset: 5, Length: 2}}
	if fmt.Sprint(fellBack) != fmt.Sprint(want) {
		t.Fatalf("fallback got %+v, want %+v", fellBack, want)
	}
	if string(col.files["base/5/escape"]) != "out" || !bytes.Equal(col.files["base/5/16384"], files["base/5/16384"][:20]) {
		t.Fatalf("files %q, %d bytes", col.files["base/5/escape"], len(col.files["base/5/16384"]))
	}
}
