package transport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testUser is the login user of the sshd tests: root's shell start-up is
// slow (about 0.5 s per command), so a system user with a plain /bin/sh and
// passwordless sudo stands in for the operator's deploy user.
const testUser = "pgrb"

var userOnce sync.Once

// ensureTestUser creates testUser and its sudoers drop-in if missing.
func ensureTestUser(t testing.TB) {
	t.Helper()
	var err error
	userOnce.Do(func() {
		home := "/var/lib/pgrunbook/home"
		if _, lerr := user.Lookup(testUser); lerr != nil {
			if err = os.MkdirAll(filepath.Dir(home), 0o755); err != nil {
				return
			}
			out, uerr := exec.Command("useradd", "--system", "--shell", "/bin/sh", "--home-dir", home, "--create-home", testUser).CombinedOutput()
			if uerr != nil {
				err = fmt.Errorf("useradd %s: %v: %s", testUser, uerr, out)
				return
			}
		}
		// useradd leaves the password "!" (locked), and without PAM sshd
		// refuses locked accounts even for key logins; "*" is "no password"
		// without the lock.
		if out, uerr := exec.Command("usermod", "-p", "*", testUser).CombinedOutput(); uerr != nil {
			err = fmt.Errorf("unlock %s: %v: %s", testUser, uerr, out)
			return
		}
		if err = os.MkdirAll(home, 0o755); err != nil {
			return
		}
		if err = os.Chmod(home, 0o755); err != nil {
			return
		}
		err = os.WriteFile("/etc/sudoers.d/pgrunbook", []byte(testUser+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440)
	})
	if err != nil {
		t.Fatalf("set up test user %s: %v", testUser, err)
	}
}

// sshd is one real OpenSSH server started by a test.
type sshd struct {
	addr       string
	cmd        *exec.Cmd
	dir        string
	hostKeys   []ssh.Signer
	clientKey  string // private key file of testUser
	knownHosts string // known_hosts file with every host key of this sshd
}

// sshdOptions tune startSSHD.
type sshdOptions struct {
	// hostKeyTypes are "ed25519" and/or "ecdsa"; default ed25519.
	hostKeyTypes []string
	// knownTypes limits the known_hosts file to these types; default all.
	knownTypes []string
	// extra is appended to sshd_config.
	extra string
}

// startSSHD starts /usr/sbin/sshd on a free loopback port, with fresh
// host and client keys, and stops it when the test ends.
func startSSHD(t testing.TB, opts sshdOptions) *sshd {
	t.Helper()
	requireRoot(t)
	ensureTestUser(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	// sshd reads authorized_keys as the login user.
	dir := sharedTempDir(t, 0o755)
	s := &sshd{dir: dir}
	if len(opts.hostKeyTypes) == 0 {
		opts.hostKeyTypes = []string{"ed25519"}
	}
	if len(opts.knownTypes) == 0 {
		opts.knownTypes = opts.hostKeyTypes
	}
	var hostKeyLines []string
	for _, typ := range opts.hostKeyTypes {
		path := filepath.Join(dir, "host_"+typ)
		signer := writeKey(t, path, typ)
		s.hostKeys = append(s.hostKeys, signer)
		hostKeyLines = append(hostKeyLines, "HostKey "+path)
	}
	s.clientKey = filepath.Join(dir, "client_key")
	client := writeKey(t, s.clientKey, "ed25519")
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(client.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	s.addr = freeAddr(t)
	var known []string
	for i, typ := range opts.hostKeyTypes {
		for _, k := range opts.knownTypes {
			if k == typ {
				known = append(known, knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.hostKeys[i].PublicKey()))
			}
		}
	}
	s.knownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.knownHosts, []byte(strings.Join(known, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.addr)
	config := strings.Join(append(hostKeyLines,
		"ListenAddress 127.0.0.1",
		"Port "+port,
		"PidFile "+filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile "+authorized,
		"UsePAM no",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"AllowTcpForwarding yes",
		"AcceptEnv PGRB_*",
		"Subsystem sftp internal-sftp",
		"LogLevel ERROR",
		opts.extra,
	), "\n") + "\n"
	configPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", configPath)
	s.cmd.Stderr = &testWriter{t: t, prefix: "sshd " + s.addr + ": "}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on %s did not start listening: %v", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// config returns an SSHConfig for s as testUser.
func (s *sshd) config() SSHConfig {
	return SSHConfig{
		Name:              "test-" + s.addr,
		Addr:              s.addr,
		User:              testUser,
		KeyFiles:          []string{s.clientKey},
		KnownHosts:        []string{s.knownHosts},
		ConnectTimeout:    5 * time.Second,
		KeepaliveInterval: time.Second,
		KeepaliveMax:      3,
	}
}

// stop kills sshd and every session process it started.
func (s *sshd) stop() {
	s.signalAll(syscall.SIGCONT)
	s.signalAll(syscall.SIGKILL)
	s.cmd.Wait()
}

// signalAll sends sig to sshd and all its descendants (the per-connection
// processes that outlive a killed listener).
func (s *sshd) signalAll(sig syscall.Signal) {
	for _, pid := range descendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, sig)
	}
	syscall.Kill(s.cmd.Process.Pid, sig)
}

// descendants returns the pids of every descendant of pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces; fields after its
		// closing parenthesis are fixed.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		p, _ := strconv.Atoi(filepath.Base(d))
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// writeKey generates a private key of typ, writes it in OpenSSH format to
// path (0600) and returns its signer.
func writeKey(t testing.TB, path, typ string) ssh.Signer {
	t.Helper()
	var priv any
	switch typ {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	default:
		t.Fatalf("unknown key type %s", typ)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testWriter logs what a helper process writes, line by line.
type testWriter struct {
	t      testing.TB
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.Contains(l, "kex_exchange_identification") {
			// The readiness probe connects and hangs up without a word.
			continue
		}
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}
