package transport

import (
	"context"
	"fmt"
	"net"
)

// Listener is implemented by connections that can accept TCP connections
// on the host's side and hand them to the bastion: a remote forward
// (tcpip-forward) for SSH, a plain listen for the local transport. It is
// an optional capability, asked for with a type assertion, so that fakes
// and other Conn implementations need not provide it:
//
//	if l, ok := conn.(transport.Listener); ok {
//		ln, err := l.Listen(ctx, "tcp", "127.0.0.1:0")
//		...
//	}
//
// The rewind step uses it to give the engine on the old primary a local
// address that leads, through the bastion, to the stream server on the
// new primary.
type Listener interface {
	// Listen opens a listener at addr as the host sees it; port 0 lets
	// the host pick one, which the listener's Addr reports. Closing the
	// listener stops the forward; connections already accepted stay
	// open until closed. Errors that mean the host is gone match
	// ErrUnreachable; a host that refuses to forward (sshd's
	// AllowTcpForwarding) returns a plain error.
	Listen(ctx context.Context, network, addr string) (net.Listener, error)
}

var (
	_ Listener = (*sshConn)(nil)
	_ Listener = localConn{}
)

// Listen asks the host's sshd (the last hop, behind any bastions) to
// listen at addr and forward every connection back over this client.
// x/crypto/ssh's request has no deadline of its own, so it runs in a
// goroutine and a listener that arrives after ctx ended is closed again.
func (c *sshConn) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	if err := c.lostErr(); err != nil {
		return nil, fmt.Errorf("listen on %s of %s: %w", addr, c.cfg.Name, err)
	}
	got := make(chan listenAnswer, 1)
	go func() {
		ln, err := c.client.Listen(network, addr)
		got <- listenAnswer{ln, err}
	}()
	select {
	case a := <-got:
		if a.err == nil {
			return a.ln, nil
		}
		if err := c.lostErr(); err != nil {
			return nil, unreachable(a.err, "listen on %s of %s", addr, c.cfg.Name)
		}
		return nil, fmt.Errorf("listen on %s of %s: %w", addr, c.cfg.Name, a.err)
	case <-ctx.Done():
		go closeLate(got)
		return nil, fmt.Errorf("listen on %s of %s: %w", addr, c.cfg.Name, ctx.Err())
	case <-c.done:
		go closeLate(got)
		return nil, fmt.Errorf("listen on %s of %s: %w", addr, c.cfg.Name, c.lostErr())
	}
}

// closeLate closes a listener that was granted after its caller gave up.
func closeLate(got <-chan listenAnswer) {
	if a := <-got; a.ln != nil {
		a.ln.Close()
	}
}

// listenAnswer is what a tcpip-forward request came back with.
type listenAnswer struct {
	ln  net.Listener
	err error
}

// Listen opens a plain listener on this machine.
func (localConn) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s locally: %w", addr, err)
	}
	return ln, nil
}
