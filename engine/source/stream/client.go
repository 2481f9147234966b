package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// ErrTokenRefused is returned when the server says the token is wrong.
var ErrTokenRefused = errors.New("refused the token")

// ClientOptions tune a client.
type ClientOptions struct {
	// Dial opens the connection; nil means a TCP dial. Tests pass one
	// end of a net.Pipe.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Debugf, when set, receives the fetch's --debug messages.
	Debugf func(format string, args ...any)
	// Jobs is the number of connections a Fetch spreads the files over
	// (--jobs); below 1 means 1.
	Jobs int
	// Fallback, when set, fetches the ranges of files the server refused
	// to open because they lie outside PGDATA (through a symbolic link
	// other than a tablespace's or pg_wal), once the stream is done; the
	// engine passes its SQL source, which reads them as pg_rewind would.
	// Without it such a file fails the fetch.
	Fallback func(ctx context.Context, ranges []source.Range, sink source.Sink) error
	// Compress asks the server to compress every frame, none, or (the
	// default, CompressAuto) as the connection's speed calls for
	// (--source-stream-compress).
	Compress Compression
}

// Client fetches file ranges from a stream server. The connection that
// Identity opens stays open for the first Fetch: the server counts an open
// connection as activity, so a rewind whose listing or crash recovery
// takes long does not find the server gone idle.
type Client struct {
	addr  string
	token []byte
	opts  ClientOptions

	transferred atomic.Int64
	// envelopesRaw and envelopesZstd count the frames received raw and
	// compressed, for tests and debug messages.
	envelopesRaw, envelopesZstd atomic.Int64
	// first is the identity the first handshake returned; later
	// connections must find the same.
	first atomic.Pointer[Identity]

	mu     sync.Mutex
	parked net.Conn // Identity's connection, until a Fetch takes it
}

// NewClient returns a client of the server at addr (HOST:PORT) that
// presents token, TokenSize bytes.
func NewClient(addr string, token []byte, opts ClientOptions) *Client {
	return &Client{addr: addr, token: token, opts: opts}
}

// Addr is the server's address, for messages.
func (c *Client) Addr() string { return c.addr }

// Transferred is the number of bytes received by Fetch so far, compressed
// or raw as they came: what crossed the network for file data.
func (c *Client) Transferred() int64 { return c.transferred.Load() }

func (c *Client) debugf(format string, args ...any) {
	if c.opts.Debugf != nil {
		c.opts.Debugf(format, args...)
	}
}

// dial connects and runs the handshake, returning the server's identity.
func (c *Client) dial(ctx context.Context) (net.Conn, Identity, error) {
	var conn net.Conn
	var err error
	if c.opts.Dial != nil {
		conn, err = c.opts.Dial(ctx, c.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return nil, Identity{}, fmt.Errorf("connect to stream server at %s: %w", c.addr, err)
	}
	id, err := c.handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, Identity{}, err
	}
	return conn, id, nil
}

// handshake presents the token and the hello and reads the identity.
func (c *Client) handshake(ctx context.Context, conn net.Conn) (Identity, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(handshakeTimeout + 5*time.Second))
	}
	defer conn.SetDeadline(time.Time{})
	hello := encoder{b: append([]byte(Magic), c.token...)}
	hello.u8(frameHello)
	hello.u32(3)
	hello.u16(Version)
	hello.u8(byte(c.opts.Compress))
	if _, err := conn.Write(hello.b); err != nil {
		return Identity{}, c.handshakeErr(ctx, "send token", err)
	}
	typ, p, err := readFrame(conn, nil)
	if err != nil {
		return Identity{}, c.handshakeErr(ctx, "read identity", err)
	}
	switch typ {
	case frameIdentity:
		id, err := decodeIdentity(p)
		if err != nil {
			return id, fmt.Errorf("stream server at %s: %w", c.addr, err)
		}
		return id, nil
	case frameError:
		se := parseError(p)
		if se.Code == codeToken {
			return Identity{}, fmt.Errorf("stream server at %s %w", c.addr, ErrTokenRefused)
		}
		return Identity{}, fmt.Errorf("stream server at %s: %w", c.addr, se)
	default:
		return Identity{}, fmt.Errorf("stream server at %s answered the hello with an unknown frame type 0x%02x", c.addr, typ)
	}
}

// handshakeErr names a failed handshake. A connection closed without a
// word usually means nothing serves the port's far end: an SSH forward
// accepts the connection even when its target does not.
func (c *Client) handshakeErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("stream server at %s: %s: the connection was closed without an answer (is rewind-serve listening at the far end?): %w", c.addr, what, err)
	}
	return fmt.Errorf("stream server at %s: %s: %w", c.addr, what, err)
}

// Identity connects, checks the token and returns what the server says
// about the cluster it serves. The connection is kept for Fetch.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	conn, id, err := c.dial(ctx)
	if err != nil {
		return id, err
	}
	c.first.CompareAndSwap(nil, &id)
	c.mu.Lock()
	old := c.parked
	c.parked = conn
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return id, nil
}

// conn returns the parked connection, or a new one whose server must
// still serve the cluster Identity saw.
func (c *Client) conn(ctx context.Context) (net.Conn, error) {
	c.mu.Lock()
	conn := c.parked
	c.parked = nil
	c.mu.Unlock()
	if conn != nil {
		return conn, nil
	}
	conn, id, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if first := c.first.Load(); first != nil && *first != id {
		conn.Close()
		return nil, fmt.Errorf("stream server at %s serves another cluster than when the rewind began (system identifier %d, postmaster started %s; was %d, %s): was the source restarted?",
			c.addr, id.SystemIdentifier, id.StartTime.UTC().Format(time.RFC3339), first.SystemIdentifier, first.StartTime.UTC().Format(time.RFC3339))
	}
	return conn, nil
}

// Close closes the parked connection, if a Fetch has not taken it.
func (c *Client) Close() error {
	c.mu.Lock()
	conn := c.parked
	c.parked = nil
	c.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}
