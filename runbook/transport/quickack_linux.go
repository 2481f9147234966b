//go:build linux

package transport

import (
	"net"
	"syscall"
)

// quickAckConn is a TCP connection that re-arms TCP_QUICKACK after every
// read: the kernel leaves quick-ACK mode on its own (when it sees traffic
// that looks interactive), so a single setting would not last.
type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func newQuickAckConn(tc *net.TCPConn) net.Conn {
	raw, err := tc.SyscallConn()
	if err != nil {
		return tc
	}
	c := &quickAckConn{TCPConn: tc, raw: raw}
	c.arm()
	return c
}

// Read reads from the connection, then asks the kernel to acknowledge
// what has arrived without delay.
func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if n > 0 {
		c.arm()
	}
	return n, err
}

// arm sets TCP_QUICKACK; an error only loses the speed-up.
func (c *quickAckConn) arm() {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
