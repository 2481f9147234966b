package steps

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

func TestRewindValidateStream(t *testing.T) {
	cases := []struct {
		name string
		step Rewind
		want string // "" means valid
	}{
		{"source_host", Rewind{PGData: "/d", SourceServer: "host=pg2", SourceHost: "pg2"}, ""},
		{"source_host and source_pgdata", Rewind{PGData: "/d", SourceServer: "host=pg2", SourceHost: "pg2", SourcePGData: "/srv/pg2"}, ""},
		{"source_host with the native engine named", Rewind{PGData: "/d", SourceServer: "host=pg2", SourceHost: "pg2", Engine: "native"}, ""},
		{"source_pgdata alone", Rewind{PGData: "/d", SourceServer: "host=pg2", SourcePGData: "/srv/pg2"}, "source_pgdata needs source_host"},
		{"source_host with pg_rewind", Rewind{PGData: "/d", SourceServer: "host=pg2", SourceHost: "pg2", Engine: "pg_rewind"},
			"source_host streams to the native engine only"},
		{"source_host still needs source_server", Rewind{PGData: "/d", SourceHost: "pg2"}, "source_server is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.step.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

const testToken = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestParseServeHello(t *testing.T) {
	cases := []struct {
		line, want string // want: "" for a good line, else part of the error
	}{
		{`{"listen":"127.0.0.1:40001","token":"` + testToken + `"}`, ""},
		{`{"listen":"127.0.0.1:0","token":"` + testToken + `"}`, "want HOST:PORT"},
		{`{"listen":"40001","token":"` + testToken + `"}`, "want HOST:PORT"},
		{`{"listen":"127.0.0.1:40001","token":"` + strings.ToUpper(testToken) + `"}`, "64 lowercase hex"},
		{`{"listen":"127.0.0.1:40001","token":"abcd"}`, "64 lowercase hex"},
		{`listening on 127.0.0.1:40001 ` + testToken, "not its listen line"},
	}
	for _, tc := range cases {
		h, err := parseServeHello(tc.line)
		switch {
		case tc.want == "" && (err != nil || h.Listen != "127.0.0.1:40001" || h.Token != testToken):
			t.Errorf("parseServeHello(%s) = %+v, %v", tc.line, h, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("parseServeHello(%s) = %v, want an error with %q", tc.line, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "aabbccdd"):
			t.Errorf("parseServeHello's error shows the token: %v", err)
		}
	}
}

func TestTransferSummary(t *testing.T) {
	cases := []struct {
		rep  map[string]any
		want string
	}{
		{map[string]any{"transfer": "stream", "bytes_transferred": 1000.0, "bytes_fetched": 4500.0},
			"transfer: stream, 1000 bytes sent for 4500 bytes of data (4.5x smaller)"},
		{map[string]any{"transfer": "stream", "bytes_transferred": 0.0, "bytes_fetched": 0.0},
			"transfer: stream, 0 bytes sent for 0 bytes of data"},
		{map[string]any{"transfer": "stream"}, "transfer: stream"},
		// SQL transfers keep the message as it always was.
		{map[string]any{"transfer": "sql", "bytes_transferred": 10.0, "bytes_fetched": 10.0}, ""},
		{map[string]any{}, ""},
	}
	for _, tc := range cases {
		if got := transferSummary(tc.rep); got != tc.want {
			t.Errorf("transferSummary(%v) = %q, want %q", tc.rep, got, tc.want)
		}
	}
}

// listeningHost is a fake old primary whose connection can listen (on
// this machine's loopback).
type listeningHost struct {
	*fakeHost
	mu        sync.Mutex
	listeners []net.Listener
}

func (h *listeningHost) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err == nil {
		h.mu.Lock()
		h.listeners = append(h.listeners, ln)
		h.mu.Unlock()
	}
	return ln, err
}

// servingHost is a fake new primary: rewind-serve runs serve, Dial
// reaches an echo server standing in for rewind-serve's port.
type servingHost struct {
	*fakeHost
	serve func(ctx context.Context, cmd transport.Command) (transport.Result, error)

	mu      sync.Mutex
	serveAt []string // argv of every rewind-serve
	become  string
	stopped chan struct{}
	dialed  []string
}

func (h *servingHost) Exec(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	if len(cmd.Argv) > 1 && cmd.Argv[1] == "rewind-serve" {
		h.mu.Lock()
		h.serveAt, h.become = cmd.Argv, cmd.Become
		h.mu.Unlock()
		defer close(h.stopped)
		return h.serve(ctx, cmd)
	}
	return h.fakeHost.Exec(ctx, cmd)
}

func (h *servingHost) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	h.mu.Lock()
	h.dialed = append(h.dialed, addr)
	h.mu.Unlock()
	near, far := net.Pipe()
	go func() {
		defer far.Close()
		io.Copy(far, far)
	}()
	return near, nil
}

// listens is a rewind-serve that prints its listen line and runs until
// cancelled.
func listens(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	line := `{"listen":"127.0.0.1:45678","token":"` + testToken + `"}`
	cmd.Stdout(line)
	<-ctx.Done()
	return transport.Result{Stdout: line + "\n"}, ctx.Err()
}

// streamFixture is a rewind step with source_host pg2 between a fake old
// primary pg1 and a fake new primary pg2.
type streamFixture struct {
	old    *listeningHost
	src    *servingHost
	target *runbook.Target
	output []string
	step   *Rewind
	engine *remoteEngine
}

func newStreamFixture(t *testing.T, serve func(context.Context, transport.Command) (transport.Result, error)) *streamFixture {
	t.Helper()
	bin := t.TempDir() + "/pgrunbook"
	mustWrite(t, bin, "#!/bin/sh\n", 0o755)
	f := &streamFixture{
		old:  &listeningHost{fakeHost: newFakeHost()},
		src:  &servingHost{fakeHost: newFakeHost(), serve: serve, stopped: make(chan struct{})},
		step: &Rewind{PGData: "/srv/pg1", SourceServer: "host=pg2 password=sesame", SourceHost: "pg2", EngineBinary: bin},
	}
	var mu sync.Mutex
	f.target = &runbook.Target{
		Host: &runbook.Host{Name: "pg1", Vars: map[string]any{}}, Conn: f.old, Become: "postgres",
		Output: func(stream, line string) {
			mu.Lock()
			defer mu.Unlock()
			f.output = append(f.output, stream+": "+line)
		},
	}
	f.target.Peers = func(ctx context.Context, name string) (*runbook.Target, error) {
		if name != "pg2" {
			return nil, fmt.Errorf("open host %s: no such inventory host", name)
		}
		p := *f.target
		p.Host = &runbook.Host{Name: "pg2", Vars: map[string]any{"pgdata": "/srv/pg2", "remote_dir": "/opt/pgrunbook"}}
		p.Conn = f.src
		return &p, nil
	}
	f.engine = newRemoteEngine(f.target, bin)
	return f
}

func TestStreamOpenAndClose(t *testing.T) {
	f := newStreamFixture(t, listens)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	facts := map[string]any{}
	st := f.step.streamOrSQL(ctx, f.target, f.engine, facts)
	if st == nil {
		t.Fatalf("no stream: %v %v", facts, f.output)
	}
	if facts["transfer"] != "stream" || len(f.output) != 0 {
		t.Errorf("facts %v, output %v: want transfer stream and no output", facts, f.output)
	}
	tokenFile := "/tmp/pgrunbook-engine.AbCd1234/stream-token"
	// stream_compress is unset: the relay compresses always.
	want := []string{fmt.Sprintf("--source-stream=127.0.0.1:%d", st.Port), "--source-stream-token-file=" + tokenFile,
		"--source-stream-compress=always"}
	if strings.Join(st.Args, " ") != strings.Join(want, " ") {
		t.Errorf("engine args %v, want %v", st.Args, want)
	}
	if strings.Contains(strings.Join(st.Args, " "), testToken) {
		t.Errorf("the token is on the engine's command line: %v", st.Args)
	}
	if got := string(f.old.files[tokenFile]); got != testToken+"\n" {
		t.Errorf("token file holds %q", got)
	}
	if len(f.src.serveAt) != 4 || f.src.serveAt[2] != "-D" || f.src.serveAt[3] != "/srv/pg2" ||
		!strings.HasPrefix(f.src.serveAt[0], "/opt/pgrunbook/pgrunbook-") || f.src.become != "postgres" {
		t.Errorf("rewind-serve ran as %q: %v; want the shipped binary on pg2's pgdata as postgres", f.src.become, f.src.serveAt)
	}
	if len(f.src.uploads) != 1 {
		t.Errorf("uploads to pg2: %v, want the engine binary once", f.src.uploads)
	}

	// The engine's connection to the forwarded port reaches the server.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", st.Port))
	if err != nil {
		t.Fatal(err)
	}
	go c.Write([]byte("ranges"))
	got := make([]byte, 6)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ranges" {
		t.Fatalf("through the relay: %q %v", got, err)
	}
	if len(f.src.dialed) != 1 || f.src.dialed[0] != "127.0.0.1:45678" {
		t.Errorf("relay dialled %v on pg2, want rewind-serve's address", f.src.dialed)
	}

	if err := st.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-f.src.stopped:
	default:
		t.Error("rewind-serve still runs after close")
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the relayed connection is still open after close")
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", st.Port)); err == nil {
		t.Error("the forwarded port still listens after close")
	}
	if _, ok := f.old.files[tokenFile]; ok {
		t.Error("the token file is still there after close")
	}
}

func TestStreamFallsBackToSQL(t *testing.T) {
	cases := []struct {
		name string
		// change breaks the fixture.
		change func(f *streamFixture)
		want   string
	}{
		{"source host unreachable", func(f *streamFixture) {
			f.target.Peers = func(ctx context.Context, name string) (*runbook.Target, error) {
				return nil, fmt.Errorf("connect pg2: connect to pg2 (10.77.0.12:22): no route to host: %w", runbook.ErrPeerUnreachable)
			}
		}, "stream from pg2 unavailable: connect pg2: connect to pg2 (10.77.0.12:22): no route to host"},
		{"no such host", func(f *streamFixture) { f.step.SourceHost = "pg9" },
			"stream from pg9 unavailable: open host pg9: no such inventory host; fetching over SQL"},
		{"no executor", func(f *streamFixture) { f.target.Peers = nil },
			"stream from pg2 unavailable: open host pg2: this target cannot reach other hosts; fetching over SQL"},
		{"old primary cannot listen", func(f *streamFixture) { f.target.Conn = f.old.fakeHost },
			"stream from pg2 unavailable: the connection to pg1 cannot forward a port"},
		{"rewind-serve missing", func(f *streamFixture) {
			f.src.serve = func(context.Context, transport.Command) (transport.Result, error) {
				return transport.Result{ExitCode: 1, Stderr: `Error: unknown command "rewind-serve" for "pgrunbook"` + "\n"}, nil
			}
		}, `rewind-serve on pg2 exited before listening: Error: unknown command "rewind-serve" for "pgrunbook" (exit status 1); fetching over SQL`},
		{"rewind-serve says something else", func(f *streamFixture) {
			f.src.serve = func(ctx context.Context, cmd transport.Command) (transport.Result, error) {
				cmd.Stdout("token " + testToken)
				<-ctx.Done()
				return transport.Result{}, ctx.Err()
			}
		}, "rewind-serve's first line is not its listen line; fetching over SQL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStreamFixture(t, listens)
			tc.change(f)
			facts := map[string]any{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if st := f.step.streamOrSQL(ctx, f.target, f.engine, facts); st != nil {
				st.close()
				t.Fatal("a stream was opened")
			}
			out := strings.Join(f.output, "\n")
			if facts["transfer"] != "sql" || !strings.Contains(out, tc.want) || len(f.output) != 1 {
				t.Errorf("facts %v, output:\n%s\nwant transfer sql and one line with %q", facts, out, tc.want)
			}
			if strings.Contains(out, testToken) || strings.Contains(out, "sesame") {
				t.Errorf("the output shows a secret: %s", out)
			}
			for _, ln := range f.old.listeners {
				if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
					t.Errorf("a listener on pg1 is left open at %s", ln.Addr())
				}
			}
			for p := range f.old.files {
				t.Errorf("left on pg1: %s", p)
			}
			if f.src.serveAt != nil {
				select {
				case <-f.src.stopped:
				case <-time.After(time.Second):
					t.Error("rewind-serve still runs after the fallback")
				}
			}
		})
	}
}

func TestStreamNotAskedFor(t *testing.T) {
	f := newStreamFixture(t, listens)
	f.step.SourceHost = ""
	facts := map[string]any{}
	if st := f.step.streamOrSQL(context.Background(), f.target, f.engine, facts); st != nil || facts["transfer"] != "sql" || len(f.output) != 0 {
		t.Errorf("without source_host: stream %v, facts %v, output %v", st, facts, f.output)
	}
	if len(f.src.cmds) != 0 || len(f.old.cmds) != 0 {
		t.Errorf("commands ran without source_host: pg1 %d, pg2 %d", len(f.old.cmds), len(f.src.cmds))
	}
}
