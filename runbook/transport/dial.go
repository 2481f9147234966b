package transport

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
)

// dialChain connects to cfg's host, first connecting to its bastions
// (recursively), and returns the clients of the chain, the host's last. Each
// hop is verified against known_hosts under its own address, so a bastion
// cannot impersonate the host behind it.
func dialChain(ctx context.Context, cfg SSHConfig) ([]*ssh.Client, error) {
	var chain []*ssh.Client
	var conn net.Conn
	if cfg.Bastion != nil {
		b := cfg.Bastion.withDefaults(&cfg)
		var err error
		chain, err = dialChain(ctx, b)
		if err != nil {
			return nil, err
		}
		conn, err = dialThrough(ctx, chain[len(chain)-1], b, cfg)
		if err != nil {
			closeAll(chain)
			return nil, err
		}
	} else {
		d := net.Dialer{Timeout: cfg.ConnectTimeout}
		var err error
		conn, err = d.DialContext(ctx, "tcp", cfg.Addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("connect to %s (%s): %w", cfg.Name, cfg.Addr, ctx.Err())
			}
			return nil, unreachable(err, "connect to %s (%s)", cfg.Name, cfg.Addr)
		}
		conn = quickAck(conn)
	}
	client, err := handshake(ctx, conn, cfg)
	if err != nil {
		closeAll(chain)
		return nil, err
	}
	return append(chain, client), nil
}

// dialThrough opens a direct-tcpip channel from bastion b to cfg's host,
// bounded by the connect timeout.
func dialThrough(ctx context.Context, via *ssh.Client, b, cfg SSHConfig) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	conn, err := via.DialContext(dctx, "tcp", cfg.Addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s (%s) via %s: %w", cfg.Name, cfg.Addr, b.Name, ctx.Err())
		}
		return nil, unreachable(err, "connect to %s (%s) via %s", cfg.Name, cfg.Addr, b.Name)
	}
	return conn, nil
}

// handshake runs the SSH handshake and authentication on conn under the
// connect timeout. x/crypto/ssh has no deadline of its own there, and a
// server that accepts TCP but never speaks would hang it forever; deadlines
// on a channel-backed conn (through a bastion) are not reliable either, so
// the conn is closed by a timer instead.
func handshake(ctx context.Context, conn net.Conn, cfg SSHConfig) (*ssh.Client, error) {
	keys, err := loadHostKeys(cfg.KnownHosts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	a, err := loadAuth(ctx, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer a.close()

	var refused *HostKeyError
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{a.method},
		HostKeyCallback:   keys.callback(cfg.Name, cfg.Addr, &refused),
		HostKeyAlgorithms: keys.algorithms(cfg.Addr),
		Timeout:           cfg.ConnectTimeout,
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, cfg.Addr, clientCfg)
	if !stop() {
		// The timer fired: whatever NewClientConn returned, conn is closed.
		if err == nil {
			sc.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh handshake with %s (%s): %w", cfg.Name, cfg.Addr, ctx.Err())
		}
		return nil, unreachable(hctx.Err(), "ssh handshake with %s (%s): no answer within %s", cfg.Name, cfg.Addr, cfg.ConnectTimeout)
	}
	if refused != nil {
		conn.Close()
		return nil, refused
	}
	if err != nil {
		conn.Close()
		return nil, unreachable(err, "ssh handshake with %s (%s) as %s", cfg.Name, cfg.Addr, cfg.User)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// closeAll closes the clients of a chain, the farthest first.
func closeAll(chain []*ssh.Client) {
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i].Close()
	}
}
