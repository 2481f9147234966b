package steps

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// serveStartTimeout bounds how long rewind-serve may take to say where it
// listens.
const serveStartTimeout = 30 * time.Second

// serveStopTimeout bounds the wait for a cancelled rewind-serve's command
// to return (the transport gives a session five seconds to close).
const serveStopTimeout = 15 * time.Second

// streamOrSQL opens the compressed transfer when source_host is set and
// records the choice in facts["transfer"]. When the stream cannot be set
// up it says why in an output line and returns nil: the rewind fetches
// over SQL, as without source_host.
func (s *Rewind) streamOrSQL(ctx context.Context, t *runbook.Target, e *remoteEngine, facts map[string]any) *sourceStream {
	return s.takeStream(t, s.prepareStream(ctx, t, e), facts)
}

// streamSetup is a stream being opened in the background while the step
// does what it does anyway (the need-check, the running check): shipping
// the engine to the new primary and starting rewind-serve there take
// longer than anything else about the stream, and none of it touches
// either data directory.
type streamSetup struct {
	cancel context.CancelFunc
	done   chan struct{}
	st     *sourceStream
	err    error
	taken  bool
}

// prepareStream starts opening the stream from source_host; it returns
// nil without source_host.
func (s *Rewind) prepareStream(ctx context.Context, t *runbook.Target, e *remoteEngine) *streamSetup {
	if s.SourceHost == "" {
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	p := &streamSetup{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.st, p.err = s.openStream(sctx, t, e)
		if p.st != nil {
			// The stream's server and relay live on sctx: closing the
			// stream releases it.
			p.st.release = cancel
		}
	}()
	return p
}

// takeStream waits for the stream being opened and records the choice in
// facts["transfer"]. When the stream could not be set up it says why in
// an output line and returns nil: the rewind fetches over SQL.
func (s *Rewind) takeStream(t *runbook.Target, p *streamSetup, facts map[string]any) *sourceStream {
	facts["transfer"] = "sql"
	if p == nil {
		return nil
	}
	<-p.done
	p.taken = true
	if p.err != nil {
		p.cancel()
		why := redact(p.err, s.SourceServer, nil).Error()
		facts["stream_unavailable"] = why
		if t.Output != nil {
			t.Output("stderr", fmt.Sprintf("stream from %s unavailable: %s; fetching over SQL", s.SourceHost, why))
		}
		return nil
	}
	facts["transfer"] = "stream"
	return p.st
}

// discard stops a stream that the step ended up not using (no rewind
// needed, a refusal, an error): its setup is cancelled and whatever it
// had started is stopped again. It does nothing once the stream was
// taken, and on nil.
func (p *streamSetup) discard() error {
	if p == nil || p.taken {
		return nil
	}
	p.taken = true
	p.cancel()
	<-p.done
	if p.st == nil {
		return nil
	}
	return p.st.close()
}

// transferSummary describes a streamed rewind's traffic: the compressed
// bytes that crossed the network for the file data fetched.
func transferSummary(rep map[string]any) string {
	if rep["transfer"] != "stream" {
		return ""
	}
	sent, ok1 := rep["bytes_transferred"].(float64)
	data, ok2 := rep["bytes_fetched"].(float64)
	if !ok1 || !ok2 {
		return "transfer: stream"
	}
	if sent <= 0 {
		return fmt.Sprintf("transfer: stream, %d bytes sent for %d bytes of data", int64(sent), int64(data))
	}
	return fmt.Sprintf("transfer: stream, %d bytes sent for %d bytes of data (%.1fx smaller)", int64(sent), int64(data), data/sent)
}

// sourceStream is the compressed transfer of one rewind: `pgrunbook
// rewind-serve` running on the new primary, a relay that brings it to a
// loopback port of the old primary, and the token file the engine there
// reads. Args are the engine's extra arguments.
type sourceStream struct {
	Args []string
	// Port is the relayed port on the old primary's loopback.
	Port int

	stopServe context.CancelFunc
	served    chan struct{}
	serveLog  lastLines
	source    string
	peer      *runbook.Target
	relay     *streamRelay
	tokenDir  *workDir
	// release ends the context the stream was opened on, once closed.
	release context.CancelFunc
}

// serveHello is rewind-serve's one line on standard output.
type serveHello struct {
	Listen string `json:"listen"`
	Token  string `json:"token"`
}

// openStream sets up the compressed transfer from source_host. When that
// cannot be done its error says why, after whatever it had started is
// stopped again (a failure to clean up is part of the error); the rewind
// then fetches over SQL. Nothing that fails here has touched either data
// directory.
func (s *Rewind) openStream(ctx context.Context, t *runbook.Target, e *remoteEngine) (_ *sourceStream, err error) {
	lis, ok := t.Conn.(transport.Listener)
	if !ok {
		return nil, fmt.Errorf("the connection to %s cannot forward a port (%T)", hostName(t), t.Conn)
	}
	st := &sourceStream{}
	// The old primary's side (the forwarded port, the private directory
	// for the token) is set up while the new primary's (its connection,
	// the engine binary, rewind-serve) is: each is a few round trips
	// through the bastion.
	local := make(chan error, 1)
	var ln net.Listener
	go func() {
		var err error
		if ln, err = lis.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
			local <- err
			return
		}
		st.tokenDir, err = e.newWorkDir(ctx)
		local <- err
	}()
	defer func() {
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			err = errors.Join(err, st.close())
		}
	}()
	hello, err := st.openServe(ctx, t, s)
	if lerr := <-local; err == nil {
		err = lerr
	}
	if err != nil {
		return nil, err
	}
	addr, _ := ln.Addr().(*net.TCPAddr)
	if addr == nil || addr.Port == 0 {
		return nil, fmt.Errorf("the forwarded port on %s is unknown (%v)", hostName(t), ln.Addr())
	}
	st.Port = addr.Port
	tokenFile, err := st.tokenDir.writeSecret(ctx, "stream-token", hello.Token+"\n")
	if err != nil {
		return nil, err
	}
	peer := st.peer
	st.relay = startRelay(ln, func(ctx context.Context) (net.Conn, error) {
		return peer.Conn.Dial(ctx, "tcp", hello.Listen)
	})
	ln = nil // the relay owns it now
	st.Args = []string{
		fmt.Sprintf("--source-stream=127.0.0.1:%d", st.Port),
		"--source-stream-token-file=" + tokenFile,
	}
	st.Args = append(st.Args, "--source-stream-compress="+s.streamCompress())
	return st, nil
}

// openServe opens the connection to source_host and starts rewind-serve
// there; the token it prints is marked secret at once.
func (st *sourceStream) openServe(ctx context.Context, t *runbook.Target, s *Rewind) (serveHello, error) {
	peer, err := t.Peer(ctx, s.SourceHost)
	if err != nil {
		return serveHello{}, err
	}
	st.peer = peer
	hello, err := st.startServe(ctx, peer, s.EngineBinary, s.sourcePGData(peer))
	if err != nil {
		return serveHello{}, err
	}
	t.MarkSecret(hello.Token)
	return hello, nil
}

// sourcePGData is source_pgdata, else the source host's pgdata variable,
// else the step's own pgdata.
func (s *Rewind) sourcePGData(peer *runbook.Target) string {
	if s.SourcePGData != "" {
		return s.SourcePGData
	}
	if peer.Host != nil {
		if v, ok := peer.Host.Vars["pgdata"]; ok && fmt.Sprint(v) != "" {
			return fmt.Sprint(v)
		}
	}
	return s.PGData
}

// startServe ships the engine binary to the new primary (as for the old
// one: content-addressed, skipped when present), starts rewind-serve
// there as the become user and waits for its listen line. The line holds
// the token: it is never shown, and neither is the command's collected
// output.
func (st *sourceStream) startServe(ctx context.Context, peer *runbook.Target, binary, pgdata string) (serveHello, error) {
	pe := newRemoteEngine(peer, binary)
	bin, _, err := pe.install(ctx)
	if err != nil {
		return serveHello{}, err
	}
	sctx, stop := context.WithCancel(ctx)
	st.stopServe, st.served = stop, make(chan struct{})
	st.source = hostName(peer)
	first := make(chan string, 1)
	var once sync.Once
	stderr := &st.serveLog
	cmd := transport.Command{
		Argv:   []string{bin, "rewind-serve", "-D", pgdata},
		Become: peer.Become,
		Stdout: func(line string) { once.Do(func() { first <- line }) },
		Stderr: stderr.add,
	}
	var res transport.Result
	var runErr error
	go func() {
		defer close(st.served)
		res, runErr = peer.Conn.Exec(sctx, cmd)
	}()
	timer := time.NewTimer(serveStartTimeout)
	defer timer.Stop()
	select {
	case line := <-first:
		return parseServeHello(line)
	case <-st.served:
		if runErr != nil {
			return serveHello{}, fmt.Errorf("run rewind-serve on %s: %w", hostName(peer), runErr)
		}
		// Standard error only: standard output may hold the token.
		return serveHello{}, fmt.Errorf("rewind-serve on %s exited before listening: %s (exit status %d)",
			hostName(peer), lastOf(res.Stderr), res.ExitCode)
	case <-timer.C:
		return serveHello{}, fmt.Errorf("rewind-serve on %s did not listen within %s: %s", hostName(peer), serveStartTimeout, stderr.text())
	case <-ctx.Done():
		return serveHello{}, fmt.Errorf("start rewind-serve on %s: %w", hostName(peer), ctx.Err())
	}
}

// parseServeHello reads rewind-serve's listen line. Errors never quote
// the line, which holds the token.
func parseServeHello(line string) (serveHello, error) {
	var h serveHello
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		return serveHello{}, errors.New("rewind-serve's first line is not its listen line")
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil || host == "" || port == "" || port == "0" {
		return serveHello{}, fmt.Errorf("rewind-serve listens at %q: want HOST:PORT", h.Listen)
	}
	if b, err := hex.DecodeString(h.Token); err != nil || len(b) != 32 || strings.ToLower(h.Token) != h.Token {
		return serveHello{}, errors.New("rewind-serve's token is not 64 lowercase hex characters")
	}
	return h, nil
}

// explain adds to a failed rewind what the relay and the server said: a
// stream that broke in the middle of the copy is often explained there.
func (st *sourceStream) explain(err error) error {
	if rerr := st.relay.Err(); rerr != nil {
		err = fmt.Errorf("%w; %w", err, rerr)
	}
	if log := st.serveLog.text(); log != "no message" {
		err = fmt.Errorf("%w; rewind-serve on %s said: %s", err, st.source, log)
	}
	return err
}

// close stops the server, the relay and removes the token file, whatever
// state openStream got to. The server's command is cancelled, which makes
// the transport's watchdog kill it on the new primary. The three are
// independent (each a round trip through the bastion at most) and are
// undone at once.
func (st *sourceStream) close() error {
	errs := make([]error, 3)
	var wg sync.WaitGroup
	if st.relay != nil {
		wg.Go(func() { errs[0] = st.relay.close() })
	}
	if st.stopServe != nil {
		wg.Go(func() {
			st.stopServe()
			select {
			case <-st.served:
			case <-time.After(serveStopTimeout):
				errs[1] = fmt.Errorf("stop rewind-serve: its command did not return within %s", serveStopTimeout)
			}
		})
	}
	if st.tokenDir != nil {
		wg.Go(func() { errs[2] = st.tokenDir.remove() })
	}
	wg.Wait()
	if st.release != nil {
		st.release()
	}
	return errors.Join(errs...)
}

// writeSecret writes content into a 0600 file of the work directory,
// through standard input so that it is on no command line, and returns
// the file's path.
func (w *workDir) writeSecret(ctx context.Context, name, content string) (string, error) {
	p := path.Join(w.Path, name)
	res, err := run(ctx, w.e.t, transport.Command{
		Argv:  []string{"sh", "-c", `umask 077 && cat > "$1"`, "pgrunbook", p},
		Stdin: strings.NewReader(content),
	})
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

// lastLines keeps the last few lines of a command's standard error, for
// the message when it fails.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if line = strings.TrimSpace(line); line == "" {
		return
	}
	l.lines = append(l.lines, line)
	if len(l.lines) > 5 {
		l.lines = l.lines[1:]
	}
}

// lastOf is the last few non-empty lines of a command's output, joined.
func lastOf(out string) string {
	var l lastLines
	for _, line := range strings.Split(out, "\n") {
		l.add(line)
	}
	return l.text()
}

func (l *lastLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "no message"
	}
	return strings.Join(l.lines, "; ")
}

// streamCompress is stream_compress, default always. rewind-serve's auto
// mode measures only how fast its socket takes bytes, and the socket here
// is the new primary's end of an SSH relay: it takes bytes fast, but every
// byte then costs SSH's encryption and copying on three machines (the new
// primary, the bastion, the old primary). Compressed at zstd's fastest
// level, pgbench-like data shrinks many times for less CPU than that
// (BenchmarkRejoinFleet: four relayed rewinds 6.9 s with auto, which sent
// 197 of 243 MB raw, against under 5 s compressed).
func (s *Rewind) streamCompress() string {
	if s.StreamCompress == "" {
		return "always"
	}
	return s.StreamCompress
}
