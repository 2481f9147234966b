package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Defaults for the zero values of SSHConfig.
const (
	DefaultConnectTimeout    = 10 * time.Second
	DefaultKeepaliveInterval = 5 * time.Second
	DefaultKeepaliveMax      = 3
)

// maxSessions caps the sessions (channels running a command) open at once
// on one connection. sshd refuses more than MaxSessions (10 by default) with
// "administratively prohibited"; the SFTP subsystem takes one more.
const maxSessions = 8

// SSHConfig says how to reach one host over SSH.
type SSHConfig struct {
	// Name is the host's name in the inventory, used in errors; it defaults
	// to Addr.
	Name string
	// Addr is host:port; a missing port means 22. It is also the name the
	// host's key is looked up by in known_hosts (non-22 ports are recorded
	// there as [host]:port).
	Addr string
	// User is the login user; empty means the local user running us.
	User string
	// KeyFiles are private key files to offer; with UseAgent, the agent's
	// keys are offered too. Passphrase-protected key files are refused: load
	// them into the agent.
	KeyFiles []string
	UseAgent bool
	// KnownHosts are known_hosts files; an unknown host or a key mismatch is
	// refused. Empty means ~/.ssh/known_hosts.
	KnownHosts []string
	// Bastion, when set, is the hop this host is reached through (which may
	// have its own Bastion). Fields it leaves empty (User, keys, KnownHosts,
	// timeouts) are taken from this config.
	Bastion *SSHConfig
	// ConnectTimeout bounds dial, handshake and authentication of each hop,
	// and the opening of every session.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often a keepalive is sent; after
	// KeepaliveMax unanswered ones the connection is closed and every call
	// on it fails with an error matching ErrUnreachable.
	KeepaliveInterval time.Duration
	KeepaliveMax      int
}

// withDefaults fills the zero fields of c, inheriting from parent (the
// host a bastion config serves) where that makes sense.
func (c SSHConfig) withDefaults(parent *SSHConfig) SSHConfig {
	if parent != nil {
		if c.User == "" {
			c.User = parent.User
		}
		if len(c.KeyFiles) == 0 && !c.UseAgent {
			c.KeyFiles, c.UseAgent = parent.KeyFiles, parent.UseAgent
		}
		if len(c.KnownHosts) == 0 {
			c.KnownHosts = parent.KnownHosts
		}
		if c.ConnectTimeout == 0 {
			c.ConnectTimeout = parent.ConnectTimeout
		}
	}
	if c.User == "" {
		if u, err := user.Current(); err == nil {
			c.User = u.Username
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		c.Addr = net.JoinHostPort(c.Addr, "22")
	}
	if c.Name == "" {
		c.Name = c.Addr
	}
	if len(c.KnownHosts) == 0 {
		if home, err := os.UserHomeDir(); err == nil {
			c.KnownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if c.KeepaliveMax <= 0 {
		c.KeepaliveMax = DefaultKeepaliveMax
	}
	return c
}

// sshConn is a Conn over one ssh.Client, possibly reached through a chain
// of bastion clients.
type sshConn struct {
	cfg    SSHConfig
	client *ssh.Client
	// hops are the bastion clients, nearest first; they are closed after
	// client.
	hops []*ssh.Client

	sessions chan struct{}
	// envRefused is set once the server refused a setenv request, so later
	// commands put Env on the command line without asking again.
	envRefused atomic.Bool

	sftpMu sync.Mutex
	sftp   *sftp.Client

	// done is closed when the connection has ended, for whatever reason;
	// lost then says why.
	done     chan struct{}
	lostOnce sync.Once
	lost     error
}

// errClosed is the cause recorded when the caller closed the connection.
var errClosed = errors.New("connection closed")

// DialSSH connects to the host of cfg, through its bastions if any, and
// starts the keepalive. The returned Conn stays usable for the whole run;
// errors that mean the host is not reachable match ErrUnreachable, refused
// host keys also ErrHostKey.
func DialSSH(ctx context.Context, cfg SSHConfig) (Conn, error) {
	cfg = cfg.withDefaults(nil)
	clients, err := dialChain(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &sshConn{
		cfg:      cfg,
		client:   clients[len(clients)-1],
		hops:     clients[:len(clients)-1],
		sessions: make(chan struct{}, maxSessions),
		done:     make(chan struct{}),
	}
	go func() {
		err := c.client.Wait()
		c.end(unreachable(err, "connection to %s (%s) lost", cfg.Name, cfg.Addr))
	}()
	go c.keepalive(cfg.KeepaliveInterval, cfg.KeepaliveMax)
	return c, nil
}

// end records why the connection ended (the first reason wins), closes
// every client of the chain and wakes everything waiting on done.
func (c *sshConn) end(cause error) {
	c.lostOnce.Do(func() {
		c.lost = cause
		close(c.done)
		c.client.Close()
		for i := len(c.hops) - 1; i >= 0; i-- {
			c.hops[i].Close()
		}
	})
}

// lostErr returns why the connection ended, or nil while it is up.
func (c *sshConn) lostErr() error {
	select {
	case <-c.done:
		return c.lost
	default:
		return nil
	}
}

// Close ends the connection and every channel on it.
func (c *sshConn) Close() error {
	c.end(errClosed)
	return nil
}

// Dial opens a direct-tcpip channel to addr from the host's point of view.
func (c *sshConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := c.lostErr(); err != nil {
		return nil, fmt.Errorf("dial %s via %s: %w", addr, c.cfg.Name, err)
	}
	conn, err := c.client.DialContext(ctx, network, addr)
	if err == nil {
		return conn, nil
	}
	var refused *ssh.OpenChannelError
	if errors.As(err, &refused) || ctx.Err() != nil {
		// The host answered (it could not connect), or we gave up: the
		// host itself is fine.
		return nil, fmt.Errorf("dial %s via %s: %w", addr, c.cfg.Name, err)
	}
	return nil, unreachable(err, "dial %s via %s", addr, c.cfg.Name)
}
