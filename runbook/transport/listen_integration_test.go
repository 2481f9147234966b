package transport

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// testListen opens a listener on the host and reaches it with the host's
// own Dial: for SSH the connection goes out as direct-tcpip to the host's
// sshd and comes back as forwarded-tcpip, the round trip the rewind
// step's stream relay makes. After Close the port no longer answers.
func testListen(t *testing.T, conn Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, ok := conn.(Listener)
	if !ok {
		t.Fatalf("%T does not implement Listener", conn)
	}
	ln, err := l.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr := ln.Addr().String()
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("listener address %s: want the port the host picked", addr)
	}
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	for i := range 2 {
		c, err := conn.Dial(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("dial the listener at %s (connection %d): %v", addr, i, err)
		}
		want := strings.Repeat("x", 100000+i)
		go c.Write([]byte(want))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
			t.Fatalf("echo through the listener (connection %d): %d bytes, %v", i, len(got), err)
		}
		c.Close()
	}
	if err := ln.Close(); err != nil {
		t.Fatalf("close the listener: %v", err)
	}
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocks after Close")
	}
	if c, err := conn.Dial(ctx, "tcp", addr); err == nil {
		// A forward that was cancelled leaves nothing listening; a channel
		// that opens anyway must at least close at once.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, rerr := c.Read(make([]byte, 1)); rerr == nil || n > 0 {
			t.Errorf("the port %s still answers after Close", addr)
		}
		c.Close()
	}
}

func TestLocalListen(t *testing.T) {
	testListen(t, NewLocal())
}

func TestSSHListen(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	testListen(t, dialTest(t, s.config()))
}

// Behind a bastion the listener is on the last hop, where the rewind
// engine runs, not on the bastion.
func TestSSHListenBehindBastion(t *testing.T) {
	bastion := startSSHD(t, sshdOptions{})
	target := startSSHD(t, sshdOptions{})
	cfg := target.config()
	b := bastion.config()
	cfg.Bastion = &b
	testListen(t, dialTest(t, cfg))
}

// A host whose sshd refuses remote forwards answers with a plain error:
// the host is fine, only the capability is missing.
func TestSSHListenRefused(t *testing.T) {
	s := startSSHD(t, sshdOptions{extra: "Match User " + testUser + "\n\tAllowTcpForwarding local"})
	conn := dialTest(t, s.config())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := conn.(Listener).Listen(ctx, "tcp", "127.0.0.1:0")
	if err == nil {
		ln.Close()
		t.Fatal("Listen succeeded although sshd allows local forwards only")
	}
	if IsUnreachable(err) || !strings.Contains(err.Error(), "listen on 127.0.0.1:0 of ") {
		t.Errorf("Listen refused: %v, want a plain error naming the address and host", err)
	}
	// The connection still works.
	if res, err := conn.Exec(ctx, Command{Argv: []string{"true"}}); err != nil || res.ExitCode != 0 {
		t.Errorf("Exec after a refused Listen: %v %+v", err, res)
	}
}

// A listener on a connection that ended is refused at once.
func TestSSHListenAfterClose(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.(Listener).Listen(ctx, "tcp", "127.0.0.1:0"); err == nil {
		t.Fatal("Listen on a closed connection succeeded")
	}
}
