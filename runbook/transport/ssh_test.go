package transport

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fakeServer is an in-process SSH server whose misbehaviour a test picks:
// hangs that a real sshd cannot be made to show on demand.
type fakeServer struct {
	addr       string
	hostKey    ssh.Signer
	clientKey  string
	knownHosts string
}

// fakeMode is what the fake server does after accepting a connection.
type fakeMode int

const (
	// fakeSilent accepts TCP and never speaks SSH.
	fakeSilent fakeMode = iota
	// fakeNoChannels completes the handshake and answers global requests
	// but never answers a channel open.
	fakeNoChannels
)

// startFake starts a fake server on loopback, stopped when the test ends.
func startFake(t *testing.T, mode fakeMode) *fakeServer {
	t.Helper()
	dir := t.TempDir()
	f := &fakeServer{
		hostKey:    writeKey(t, filepath.Join(dir, "host"), "ed25519"),
		clientKey:  filepath.Join(dir, "client"),
		knownHosts: filepath.Join(dir, "known_hosts"),
	}
	client := writeKey(t, f.clientKey, "ed25519")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	line := knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, f.hostKey.PublicKey())
	if err := os.WriteFile(f.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(client.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(f.hostKey)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if mode == fakeSilent {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				// Take channel opens and never answer them.
				var held []ssh.NewChannel
				for ch := range chans {
					held = append(held, ch)
				}
			}()
		}
	}()
	return f
}

// config returns an SSHConfig for the fake server with short timeouts.
func (f *fakeServer) config() SSHConfig {
	return SSHConfig{
		Name:              "fake",
		Addr:              f.addr,
		User:              "test",
		KeyFiles:          []string{f.clientKey},
		KnownHosts:        []string{f.knownHosts},
		ConnectTimeout:    300 * time.Millisecond,
		KeepaliveInterval: time.Hour,
		KeepaliveMax:      3,
	}
}

func TestDialHandshakeHangTimesOut(t *testing.T) {
	f := startFake(t, fakeSilent)
	start := time.Now()
	_, err := DialSSH(context.Background(), f.config())
	if !IsUnreachable(err) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("DialSSH to a silent server: %v, want an unreachable handshake timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("DialSSH took %s, want about the 300ms connect timeout", d)
	}
}

func TestDialCancelledDuringHandshake(t *testing.T) {
	f := startFake(t, fakeSilent)
	cfg := f.config()
	cfg.ConnectTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := DialSSH(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || IsUnreachable(err) {
		t.Fatalf("DialSSH with an expiring context: %v, want context.DeadlineExceeded, not unreachable", err)
	}
}

func TestDialRefusedPortIsUnreachable(t *testing.T) {
	f := startFake(t, fakeSilent)
	cfg := f.config()
	cfg.Addr = freeAddr(t)
	_, err := DialSSH(context.Background(), cfg)
	if !IsUnreachable(err) || errors.Is(err, ErrHostKey) {
		t.Fatalf("DialSSH to a closed port: %v, want unreachable", err)
	}
}

func TestNewSessionHangTimesOut(t *testing.T) {
	f := startFake(t, fakeNoChannels)
	conn, err := DialSSH(context.Background(), f.config())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, err = conn.Exec(context.Background(), Command{Argv: []string{"true"}})
	if !IsUnreachable(err) || !strings.Contains(err.Error(), "did not open a session within 300ms") {
		t.Fatalf("Exec on a server that never opens sessions: %v, want an unreachable session timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Exec took %s, want about the 300ms connect timeout", d)
	}
	// The connection is closed for good: later calls fail at once.
	if _, err := conn.Exec(context.Background(), Command{Argv: []string{"true"}}); !IsUnreachable(err) {
		t.Errorf("second Exec: %v, want unreachable", err)
	}
}

func TestKeepaliveLossClosesConnection(t *testing.T) {
	f := startFake(t, fakeNoChannels)
	p := startFreezableProxy(t, f.addr)
	cfg := f.config()
	cfg.Addr = p.addr
	// known_hosts is keyed by the address dialled.
	line := knownhosts.Line([]string{knownhosts.Normalize(p.addr)}, f.hostKey.PublicKey())
	if err := os.WriteFile(f.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = time.Minute
	cfg.KeepaliveInterval = 100 * time.Millisecond
	conn, err := DialSSH(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Keepalives are answered while the link works.
	time.Sleep(500 * time.Millisecond)
	p.freeze()
	start := time.Now()
	// Blocked in NewSession with a one-minute timeout: only the keepalive
	// can end it.
	_, err = conn.Exec(context.Background(), Command{Argv: []string{"true"}})
	if !IsUnreachable(err) || !strings.Contains(err.Error(), "3 keepalives unanswered") {
		t.Fatalf("Exec over a frozen link: %v, want an unreachable keepalive error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to notice, want about 3 x 100ms", d)
	}
}

func TestHostKeyRefusedByFake(t *testing.T) {
	f := startFake(t, fakeNoChannels)
	other := writeKey(t, filepath.Join(t.TempDir(), "other"), "ed25519")
	tests := []struct {
		name      string
		known     string
		wantStart string
		wantKnown int
	}{
		{"mismatch", knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, other.PublicKey()),
			"host key mismatch for fake (" + f.addr + "): known_hosts says ssh-ed25519 " + ssh.FingerprintSHA256(other.PublicKey()), 1},
		{"unknown", knownhosts.Line([]string{"[127.0.0.1]:1"}, f.hostKey.PublicKey()),
			"unknown host fake (" + f.addr + "): no entry in known_hosts", 0},
		{"other port of same host", knownhosts.Line([]string{"127.0.0.1"}, f.hostKey.PublicKey()),
			"unknown host fake", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(path, []byte(tt.known+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := f.config()
			cfg.KnownHosts = []string{path}
			_, err := DialSSH(context.Background(), cfg)
			var hk *HostKeyError
			if !errors.As(err, &hk) || !errors.Is(err, ErrHostKey) || !IsUnreachable(err) {
				t.Fatalf("DialSSH: %v, want a HostKeyError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantStart) || !strings.HasSuffix(err.Error(), "; refusing") {
				t.Errorf("error %q, want prefix %q", err, tt.wantStart)
			}
			if !strings.Contains(err.Error(), ssh.FingerprintSHA256(f.hostKey.PublicKey())) {
				t.Errorf("error %q does not show the offered key", err)
			}
			if len(hk.Known) != tt.wantKnown {
				t.Errorf("Known has %d keys, want %d", len(hk.Known), tt.wantKnown)
			}
		})
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	dir := t.TempDir()
	ed := writeKey(t, filepath.Join(dir, "ed"), "ed25519")
	ec := writeKey(t, filepath.Join(dir, "ec"), "ecdsa")
	rsaKey := rsaPublicKey(t)
	lines := []string{
		knownhosts.Line([]string{"[10.77.0.11]:2222"}, ed.PublicKey()),
		knownhosts.Line([]string{"10.77.0.11"}, ec.PublicKey()),
		knownhosts.Line([]string{"pg2"}, rsaKey),
		knownhosts.Line([]string{"pg2"}, ed.PublicKey()),
	}
	path := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := loadHostKeys([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"10.77.0.11:2222", []string{ssh.KeyAlgoED25519}},
		{"10.77.0.11:22", []string{ssh.KeyAlgoECDSA256}},
		{"10.77.0.12:22", nil},
		{"pg2:22", []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoED25519}},
	}
	for _, tt := range tests {
		if got := keys.algorithms(tt.addr); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("algorithms(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestLoadHostKeysMissingFile(t *testing.T) {
	_, err := loadHostKeys([]string{filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "load known_hosts") {
		t.Fatalf("loadHostKeys of a missing file: %v", err)
	}
}

// rsaPublicKey generates an RSA public key; known_hosts records RSA keys
// as ssh-rsa whatever signature algorithm the server then uses.
func rsaPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// freezableProxy forwards TCP to a target until frozen; then it stops
// moving bytes but keeps the connections open, like a partitioned network.
type freezableProxy struct {
	addr   string
	mu     sync.Mutex
	frozen chan struct{}
}

func startFreezableProxy(t *testing.T, target string) *freezableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezableProxy{addr: ln.Addr().String(), frozen: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	return p
}

// pipe copies src to dst chunk by chunk until the proxy is frozen.
func (p *freezableProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops all forwarding.
func (p *freezableProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.frozen)
}
