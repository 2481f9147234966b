package transport

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dialTest connects to s as testUser and closes the connection when the
// test ends.
func dialTest(t *testing.T, cfg SSHConfig) Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := DialSSH(ctx, cfg)
	if err != nil {
		t.Fatalf("DialSSH %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestSSHExec(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	runExecCases(t, dialTest(t, s.config()))
}

func TestSSHLiveLines(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	testLiveLines(t, dialTest(t, s.config()))
}

func TestSSHCancelKillsRemoteProcess(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	testCancelKills(t, dialTest(t, s.config()))
}

func TestSSHUploadAtomic(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	// The upload runs as testUser.
	dir := sharedTempDir(t, 0o777)
	testUploadAtomic(t, dialTest(t, s.config()), dir)
}

func TestSSHUploadErrorLeavesNothing(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	dir := sharedTempDir(t, 0o777)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failing := &failingReader{after: 1 << 20}
	err := conn.Upload(ctx, failing, dir+"/blob", 0o644)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Upload with failing reader: %v, want the reader's error", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left behind after a failed upload: %v", entries)
	}
	// A destination the login user may not write is refused cleanly.
	err = conn.Upload(ctx, strings.NewReader("x"), "/root/pgrunbook-forbidden", 0o644)
	if err == nil || IsUnreachable(err) {
		t.Errorf("Upload to /root: %v, want a plain permission error", err)
	}
}

func TestSSHDial(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	testDial(t, dialTest(t, s.config()))
}

func TestSSHSetenvWhenAccepted(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// sshd accepts PGRB_* (AcceptEnv): the value must arrive and must not
	// be on the command line, where ps shows it.
	res, err := conn.Exec(ctx, Command{
		Script: `printf %s "$PGRB_SECRET"; cat /proc/$$/cmdline /proc/$PPID/cmdline | tr '\0' ' ' >&2`,
		Env:    map[string]string{"PGRB_SECRET": "s3cret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "s3cret" {
		t.Errorf("stdout %q, want s3cret", res.Stdout)
	}
	if strings.Contains(res.Stderr, "s3cret") {
		t.Errorf("value visible in command lines: %q", res.Stderr)
	}
	// A name sshd refuses falls back to the command line.
	res, err = conn.Exec(ctx, Command{Script: `printf %s "$OTHER"`, Env: map[string]string{"OTHER": "v"}})
	if err != nil || res.Stdout != "v" {
		t.Errorf("refused setenv: stdout %q, err %v; want v", res.Stdout, err)
	}
}

func TestSSHConcurrentSessions(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// More commands than sshd's MaxSessions (10) at once, plus an upload:
	// the semaphore must keep every one of them from being refused.
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := 0; i < 25; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := conn.Exec(ctx, Command{Script: "sleep 0.2; echo ok"})
			if err == nil && res.Stdout != "ok\n" {
				err = errors.New("unexpected output " + res.Stdout)
			}
			errs <- err
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- conn.Upload(ctx, strings.NewReader("x"), "/tmp/pgrunbook-concurrent-"+strings.ReplaceAll(s.addr, ":", "-"), 0o644)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	os.Remove("/tmp/pgrunbook-concurrent-" + strings.ReplaceAll(s.addr, ":", "-"))
}

func TestSSHHostKeyMismatchRefused(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	other := startSSHD(t, sshdOptions{})
	cfg := s.config()
	cfg.Name = "pg1"
	// other's known_hosts records a different key for other's address;
	// rewrite it for s's address.
	b, err := os.ReadFile(other.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(b), "["+strings.Replace(other.addr, ":", "]:", 1), "["+strings.Replace(s.addr, ":", "]:", 1), 1)
	path := t.TempDir() + "/known_hosts"
	if err := os.WriteFile(path, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.KnownHosts = []string{path}
	_, err = DialSSH(context.Background(), cfg)
	var hk *HostKeyError
	if !errors.As(err, &hk) || !errors.Is(err, ErrHostKey) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("DialSSH with wrong known_hosts: %v, want a HostKeyError matching ErrHostKey and ErrUnreachable", err)
	}
	want := "host key mismatch for pg1 (" + s.addr + "): known_hosts says ssh-ed25519 SHA256:"
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; refusing") {
		t.Errorf("error %q, want it to start with %q and end with \"; refusing\"", err, want)
	}
}

func TestSSHUnknownHostRefused(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	cfg := s.config()
	path := t.TempDir() + "/known_hosts"
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.KnownHosts = []string{path}
	_, err := DialSSH(context.Background(), cfg)
	if !errors.Is(err, ErrHostKey) || !strings.HasPrefix(err.Error(), "unknown host") {
		t.Fatalf("DialSSH of unknown host: %v, want an unknown host error", err)
	}
}

func TestSSHHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	// The server has an ECDSA and an Ed25519 key; known_hosts records only
	// one of them. Whichever it is, the client must ask for that type.
	for _, known := range []string{"ed25519", "ecdsa"} {
		t.Run(known, func(t *testing.T) {
			s := startSSHD(t, sshdOptions{hostKeyTypes: []string{"ecdsa", "ed25519"}, knownTypes: []string{known}})
			conn := dialTest(t, s.config())
			res, err := conn.Exec(context.Background(), Command{Argv: []string{"true"}})
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Exec: %v %+v", err, res)
			}
		})
	}
}

func TestSSHPassphraseKeyRefused(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	cfg := s.config()
	path := t.TempDir() + "/locked"
	out, err := runCmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", path)
	if err != nil {
		t.Skipf("ssh-keygen unavailable: %v %s", err, out)
	}
	cfg.KeyFiles = []string{path}
	_, err = DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "passphrase-protected") {
		t.Fatalf("DialSSH with a locked key: %v, want a passphrase error", err)
	}
}

func TestSSHBastion(t *testing.T) {
	bastion := startSSHD(t, sshdOptions{})
	target := startSSHD(t, sshdOptions{})
	cfg := target.config()
	b := bastion.config()
	cfg.Bastion = &b
	conn := dialTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := conn.Exec(ctx, Command{Script: "echo $SSH_CONNECTION"})
	if err != nil {
		t.Fatal(err)
	}
	// The target sees the connection coming from the bastion's sshd, which
	// connects from loopback to the target's port.
	_, port, _ := strings.Cut(target.addr, ":")
	if !strings.HasSuffix(strings.TrimSpace(res.Stdout), " "+port) {
		t.Errorf("SSH_CONNECTION %q does not end at the target's port %s", res.Stdout, port)
	}

	// A wrong key for the second hop is refused even though the bastion is
	// fine.
	path := t.TempDir() + "/known_hosts"
	bk, _ := os.ReadFile(bastion.knownHosts)
	ok, _ := os.ReadFile(target.knownHosts)
	other := startSSHD(t, sshdOptions{})
	wrong, _ := os.ReadFile(other.knownHosts)
	wrongLine := strings.Replace(string(wrong), "["+strings.Replace(other.addr, ":", "]:", 1), "["+strings.Replace(target.addr, ":", "]:", 1), 1)
	if err := os.WriteFile(path, []byte(string(bk)+wrongLine), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.KnownHosts = []string{path}
	b.KnownHosts = []string{path}
	_, err = DialSSH(ctx, cfg)
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Addr != target.addr || len(hk.Known) == 0 {
		t.Fatalf("DialSSH with wrong target key: %v, want a mismatch for %s", err, target.addr)
	}
	// And a wrong key for the bastion is refused before the target is
	// tried.
	wrongBastion := strings.Replace(string(wrong), "["+strings.Replace(other.addr, ":", "]:", 1), "["+strings.Replace(bastion.addr, ":", "]:", 1), 1)
	if err := os.WriteFile(path, []byte(wrongBastion+string(ok)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = DialSSH(ctx, cfg)
	if !errors.As(err, &hk) || hk.Addr != bastion.addr {
		t.Fatalf("DialSSH with wrong bastion key: %v, want a mismatch for %s", err, bastion.addr)
	}
}

func TestSSHServerKilledMidCommand(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	arg := uniqueSleep()
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), Command{Argv: []string{"sleep", arg}})
		done <- err
	}()
	waitForProcess(t, arg, 10*time.Second)
	// Kill sshd and its session processes, but not the command: the
	// connection drops, the command is orphaned.
	for _, pid := range append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid) {
		if b, _ := os.ReadFile("/proc/" + itoa(pid) + "/comm"); strings.HasPrefix(string(b), "sshd") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	select {
	case err := <-done:
		if !IsUnreachable(err) || !strings.Contains(err.Error(), "sleep") {
			t.Errorf("Exec after sshd died: %v, want an unreachable error naming the command", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Exec did not return within 5s of sshd dying")
	}
	// The watchdog saw its channel go and killed the command.
	waitForNoProcess(t, arg, 5*time.Second)
}

func TestSSHServerFrozen(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	cfg := s.config()
	cfg.KeepaliveInterval = 200 * time.Millisecond
	cfg.KeepaliveMax = 3
	conn := dialTest(t, cfg)
	arg := uniqueSleep()
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), Command{Argv: []string{"sleep", arg}})
		done <- err
	}()
	waitForProcess(t, arg, 10*time.Second)
	// Freeze sshd: the TCP connection stays up, nothing answers.
	for _, pid := range append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid) {
		if b, _ := os.ReadFile("/proc/" + itoa(pid) + "/comm"); strings.HasPrefix(string(b), "sshd") {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
	}
	start := time.Now()
	select {
	case err := <-done:
		if !IsUnreachable(err) || !strings.Contains(err.Error(), "stopped answering") {
			t.Errorf("Exec on a frozen server: %v, want an unreachable keepalive error", err)
		}
		t.Logf("gave up after %s", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("Exec did not return within 5s of sshd freezing")
	}
	// Every later call fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, Command{Argv: []string{"true"}}); !IsUnreachable(err) {
		t.Errorf("Exec after the connection died: %v, want unreachable", err)
	}
	if err := conn.Upload(ctx, strings.NewReader("x"), "/tmp/x", 0o644); !IsUnreachable(err) {
		t.Errorf("Upload after the connection died: %v, want unreachable", err)
	}
	s.signalAll(syscall.SIGCONT)
	waitForNoProcess(t, arg, 5*time.Second)
}

// BenchmarkExecNoop measures one `true` over a warm connection to a real
// sshd: the per-step cost of the SSH transport.
func BenchmarkExecNoop(b *testing.B) {
	s := startSSHD(b, sshdOptions{})
	ctx := context.Background()
	conn, err := DialSSH(ctx, s.config())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := conn.Exec(ctx, Command{Argv: []string{"true"}})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("Exec: %v %+v", err, res)
		}
	}
}

// runCmd runs a helper program and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// itoa formats a pid.
func itoa(i int) string { return strconv.Itoa(i) }

func TestSSHAgent(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	dir := t.TempDir()
	sock := dir + "/agent.sock"
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Skipf("ssh-agent unavailable: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent socket did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", s.clientKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := s.config()
	cfg.KeyFiles = nil
	cfg.UseAgent = true
	conn := dialTest(t, cfg)
	res, err := conn.Exec(context.Background(), Command{Argv: []string{"id", "-un"}})
	if err != nil || res.Stdout != testUser+"\n" {
		t.Fatalf("Exec with agent auth: %+v, %v", res, err)
	}
	// The agent socket is closed once authenticated: the agent sees no
	// client left.
	if n := countSocketPeers(t, sock); n != 0 {
		t.Errorf("%d connections to the agent still open after the handshake", n)
	}
}

// countSocketPeers counts established connections to the unix socket at
// path, from /proc/net/unix: the listening socket itself is not counted.
func countSocketPeers(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Skip("no /proc/net/unix")
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path; St 03 is
		// connected, 01 unconnected (listening).
		if len(f) == 8 && f[7] == path && f[5] == "03" {
			n++
		}
	}
	return n
}
