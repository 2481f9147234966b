package pgcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNetNS starts a server inside a network namespace: the postmaster must
// live in that namespace (so 127.0.0.1 there is not ours), while SQL through
// the unix socket still reaches it.
func TestNetNS(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := fmt.Sprintf("pgcluster-test-%d", os.Getpid())
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.CommandContext(ctx, "ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("bring lo up in %s: %v: %s", ns, err, out)
	}

	c := newTestPrimary(t, Options{Name: "inns", NetNS: ns})
	if v, err := c.QueryValue(ctx, "postgres", "SELECT 40 + 2"); err != nil || v != "42" {
		t.Fatalf("query through the socket: %q, %v", v, err)
	}
	pid := postmasterPID(t, c)
	var inNS, ofServer syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, ns), &inNS); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &ofServer); err != nil {
		t.Fatal(err)
	}
	if inNS.Ino != ofServer.Ino {
		t.Fatalf("postmaster %d runs in net namespace inode %d, want %d (%s)", pid, ofServer.Ino, inNS.Ino, ns)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), time.Second); err == nil {
		conn.Close()
		t.Fatalf("port %d answers on this namespace's loopback; the server should listen only inside %s", c.Port, ns)
	}
	if err := c.Stop(ctx, StopFast); err != nil {
		t.Fatal(err)
	}
}

// postmasterPID reads the first line of postmaster.pid.
func postmasterPID(t *testing.T, c *Cluster) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
