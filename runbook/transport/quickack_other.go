//go:build !linux

package transport

import "net"

// newQuickAckConn returns tc as it is: TCP_QUICKACK is Linux's.
func newQuickAckConn(tc *net.TCPConn) net.Conn { return tc }
