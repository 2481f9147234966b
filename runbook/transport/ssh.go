package transport

// STUB: the SSH transport work replaces this file.

import (
	"context"
	"errors"
	"time"
)

// SSHConfig says how to reach one host over SSH.
type SSHConfig struct {
	// Addr is host:port.
	Addr string
	User string
	// KeyFiles are private key files to offer; with UseAgent, the agent's
	// keys are offered too.
	KeyFiles []string
	UseAgent bool
	// KnownHosts are known_hosts files; an unknown host or a key mismatch is
	// refused.
	KnownHosts []string
	// Bastion, when set, is the hop this host is reached through (which may
	// have its own Bastion).
	Bastion *SSHConfig
	// ConnectTimeout bounds dial, handshake and authentication.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often a keepalive is sent; after
	// KeepaliveMax unanswered ones the connection is closed.
	KeepaliveInterval time.Duration
	KeepaliveMax      int
}

// DialSSH connects to the host of cfg.
func DialSSH(ctx context.Context, cfg SSHConfig) (Conn, error) {
	return nil, errors.New("ssh transport not implemented yet")
}
