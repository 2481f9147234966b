package transport

import "net"

// delayedAcks, set by benchmarks only, leaves the kernel's delayed
// acknowledgements alone, to measure what quickAck saves.
var delayedAcks bool

// quickAck returns conn, the TCP connection to a host's or a bastion's
// sshd, set to acknowledge every segment it reads at once where the system
// allows it (Linux: TCP_QUICKACK after each read; elsewhere conn as it is).
//
// Why: OpenSSH's sshd turns Nagle's algorithm off (TCP_NODELAY) only when
// a session starts on the connection. A bastion that only forwards
// (direct-tcpip) never starts one, so it holds each small message it relays
// to us until we have acknowledged the previous one, and our kernel
// delays that acknowledgement by up to 40 ms when it has nothing to send.
// Every command through a bastion paid that wait once: its output went
// through at once, its exit status 40 ms later (45 ms per command instead
// of 7 in the lab, half of a rejoin's wall time). Acknowledging at once
// costs an ACK packet per read.
func quickAck(conn net.Conn) net.Conn {
	tc, ok := conn.(*net.TCPConn)
	if !ok || delayedAcks {
		return conn
	}
	return newQuickAckConn(tc)
}
