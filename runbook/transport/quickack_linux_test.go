//go:build linux

package transport

import (
	"io"
	"net"
	"syscall"
	"testing"
)

// TestQuickAckConn checks that the connection to an sshd is wrapped, reads
// what the peer sends, and leaves the socket in quick-ACK mode after a
// read; anything else (a channel through a bastion) is left as it is.
func TestQuickAckConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("SSH-2.0-test\r\n"))
		io.Copy(io.Discard, c)
	}()
	tc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn := quickAck(tc)
	defer conn.Close()
	q, ok := conn.(*quickAckConn)
	if !ok {
		t.Fatalf("quickAck(%T) = %T, want *quickAckConn", tc, conn)
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(conn, buf, len("SSH-2.0-test\r\n"))
	if err != nil || string(buf[:n]) != "SSH-2.0-test\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	var v int
	var gerr error
	if err := q.raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil || gerr != nil {
		t.Fatalf("getsockopt TCP_QUICKACK: %v %v", err, gerr)
	}
	if v == 0 {
		t.Error("TCP_QUICKACK is off after a read")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := quickAck(a); got != a {
		t.Errorf("quickAck of a non-TCP conn = %T, want it unchanged", got)
	}
}
