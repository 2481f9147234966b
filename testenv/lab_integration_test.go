package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"gopkg.in/yaml.v3"
)

// clientConfig is an SSH client config for the lab's login user, checking
// host keys against the lab's known_hosts.
func clientConfig(t *testing.T, lab *Lab) *ssh.ClientConfig {
	t.Helper()
	b, err := os.ReadFile(lab.Key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{
		User:            LoginUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         5 * time.Second,
	}
}

// dialHost connects to host directly, or through its bastion's SSH
// connection when it has one.
func dialHost(t *testing.T, lab *Lab, host string) (*ssh.Client, error) {
	t.Helper()
	h := lab.Host(host)
	if h == nil {
		t.Fatalf("no host %s", host)
	}
	cfg := clientConfig(t, lab)
	if h.Bastion == "" {
		return ssh.Dial("tcp", h.SSHAddr(), cfg)
	}
	bastion, err := dialHost(t, lab, h.Bastion)
	if err != nil {
		return nil, fmt.Errorf("dial bastion: %w", err)
	}
	t.Cleanup(func() { bastion.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := bastion.DialContext(ctx, "tcp", h.SSHAddr())
	if err != nil {
		return nil, fmt.Errorf("dial %s through bastion: %w", h.SSHAddr(), err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, h.SSHAddr(), cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// remote runs cmd on a connected client and returns its trimmed stdout.
func remote(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("session for %q: %v", cmd, err)
	}
	defer s.Close()
	var stderr bytes.Buffer
	s.Stderr = &stderr
	out, err := s.Output(cmd)
	if err != nil {
		t.Fatalf("run %q: %v: %s", cmd, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// checkHost logs in to host and checks it is the host it claims to be and
// that become works.
func checkHost(t *testing.T, lab *Lab, host string) {
	t.Helper()
	c, err := dialHost(t, lab, host)
	if err != nil {
		t.Fatalf("ssh to %s: %v", host, err)
	}
	defer c.Close()
	h := lab.Host(host)
	// A database host has its one address; the bastion has its own and
	// the inner bridge's.
	want := []string{h.Address}
	if host == BastionName {
		want = append(want, slotAddr(slotOf(lab.HostSubnet), bridgeHostNum))
	}
	if got := remote(t, c, "hostname -I"); strings.Join(strings.Fields(got), " ") != strings.Join(want, " ") {
		t.Errorf("%s: hostname -I = %q, want %v", host, got, want)
	}
	if got := remote(t, c, "id -un"); got != LoginUser {
		t.Errorf("%s: id -un = %q, want %s", host, got, LoginUser)
	}
	if got := remote(t, c, "sudo -n -u postgres id -un"); got != "postgres" {
		t.Errorf("%s: sudo -n -u postgres id -un = %q", host, got)
	}
	if got := remote(t, c, "sudo -n -u root id -un"); got != "root" {
		t.Errorf("%s: sudo -n -u root id -un = %q", host, got)
	}
}

func TestLabThreeHosts(t *testing.T) {
	lab := ForTest(t, Spec{Hosts: 3})
	if len(lab.Hosts) != 3 || lab.Bastion != nil {
		t.Fatalf("hosts = %d, bastion = %v", len(lab.Hosts), lab.Bastion)
	}
	for i, h := range lab.Hosts {
		if want := fmt.Sprintf("pg%d", i+1); h.Name != want {
			t.Errorf("host %d is %s, want %s", i, h.Name, want)
		}
		checkHost(t, lab, h.Name)
	}
	// Hosts reach each other over the bridge (replication needs it).
	out, err := lab.Exec(context.Background(), "pg1", "bash", "-c", "exec 3<>/dev/tcp/"+lab.Hosts[2].Address+"/22 && head -c 7 <&3")
	if err != nil || string(out) != "SSH-2.0" {
		t.Errorf("pg1 -> pg3:22: %q, %v", out, err)
	}
	checkInventory(t, lab)
	st, err := lab.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Hosts {
		if !h.NamespaceUp || !h.SSHDAlive() {
			t.Errorf("status of %s: %+v", h.Name, h)
		}
	}
	for _, h := range lab.Hosts {
		for _, d := range []string{h.Dirs.DataDir, h.Dirs.SocketDir, h.Dirs.ArchiveDir} {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("%s belongs to root, want postgres", d)
			}
		}
	}
}

// checkInventory parses inventory.yml and compares it with the lab.
func checkInventory(t *testing.T, lab *Lab) {
	t.Helper()
	b, err := os.ReadFile(lab.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		All struct {
			Hosts    map[string]map[string]any `yaml:"hosts"`
			Children map[string]struct {
				Hosts map[string]any `yaml:"hosts"`
			} `yaml:"children"`
			Vars map[string]any `yaml:"vars"`
		} `yaml:"all"`
	}
	if err := yaml.Unmarshal(b, &inv); err != nil {
		t.Fatalf("parse %s: %v", lab.Inventory, err)
	}
	for _, h := range lab.allHosts() {
		got := inv.All.Hosts[h.Name]
		if got["address"] != h.Address || got["port"] != 22 || got["user"] != LoginUser {
			t.Errorf("inventory host %s = %v", h.Name, got)
		}
		if h.Bastion != "" && got["bastion"] != h.Bastion {
			t.Errorf("inventory host %s: bastion = %v, want %s", h.Name, got["bastion"], h.Bastion)
		}
	}
	if len(inv.All.Children[DBGroup].Hosts) != len(lab.Hosts) {
		t.Errorf("group db = %v", inv.All.Children[DBGroup].Hosts)
	}
	if _, ok := inv.All.Children[DBGroup].Hosts[BastionName]; ok {
		t.Error("the bastion is in group db")
	}
	v := inv.All.Vars
	if v["ssh_key"] != lab.Key || v["known_hosts"] != lab.KnownHosts || v["remote_dir"] != lab.RemoteDir {
		t.Errorf("all.vars = %v", v)
	}
}

func TestLabBastion(t *testing.T) {
	lab := ForTest(t, Spec{HostNames: []string{"db1", "db2"}, Bastion: true})
	if lab.Bastion == nil || lab.Subnet == lab.HostSubnet {
		t.Fatalf("bastion %v, subnets %s and %s", lab.Bastion, lab.Subnet, lab.HostSubnet)
	}
	for _, h := range lab.Hosts {
		// From the root namespace, where the executor runs, there is no
		// way in: no route, and it fails at once rather than leaving the
		// machine.
		start := time.Now()
		c, err := net.DialTimeout("tcp", h.SSHAddr(), 3*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("%s reachable from the root namespace", h.SSHAddr())
		}
		if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("dial %s from root: %v, want no route", h.SSHAddr(), err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("dial %s from root took %v", h.SSHAddr(), d)
		}
		checkHost(t, lab, h.Name)
	}
	checkHost(t, lab, BastionName)
	checkInventory(t, lab)
	// Nothing forwards packets between the networks.
	for _, host := range []string{BastionName, "db1"} {
		out, err := lab.Exec(context.Background(), host, "cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("%s ip_forward = %q, %v", host, out, err)
		}
	}
}

// labTraces lists what of the lab called name exists on the machine:
// namespaces, root links, live processes that mention its state dir, its
// lock file (tests' labs are ephemeral), slot records.
func labTraces(t *testing.T, name, stateDir string) []string {
	t.Helper()
	var traces []string
	nss, err := labNamespaces(name)
	if err != nil {
		t.Fatal(err)
	}
	traces = append(traces, nss...)
	links, err := labRootLinks(name)
	if err != nil {
		t.Fatal(err)
	}
	traces = append(traces, links...)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || !processAlive(pid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmd, []byte(stateDir+"/")) {
			traces = append(traces, fmt.Sprintf("process %d: %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
	}
	if _, err := os.Stat(labLockPath(name)); err == nil {
		traces = append(traces, labLockPath(name))
	}
	for _, root := range []string{cgroupV1CPU, cgroupV2Root} {
		cgs, _ := filepath.Glob(filepath.Join(root, cgroupPrefix+name+"-*"))
		traces = append(traces, cgs...)
	}
	recs, err := readSlots()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Lab == name {
			traces = append(traces, fmt.Sprintf("slot %d", r.Slot))
		}
	}
	return traces
}

func skipUnlessRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("testenv: the lab needs root (network namespaces, sshd); skipping")
	}
}

func TestLabDownLeavesNothing(t *testing.T) {
	skipUnlessRoot(t)
	ctx := context.Background()
	for _, bastion := range []bool{false, true} {
		t.Run(fmt.Sprintf("bastion=%v", bastion), func(t *testing.T) {
			name := fmt.Sprintf("tdown%d", os.Getpid()%10000)
			dir := filepath.Join(t.TempDir(), "state")
			lab, err := Up(ctx, Spec{Name: name, Hosts: 2, Bastion: bastion, StateDir: dir, OwnerPID: os.Getpid()})
			if err != nil {
				t.Fatal(err)
			}
			// A session open during Down must not keep anything alive.
			c, err := dialHost(t, lab, lab.allHosts()[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if err := sess.Start("sleep 300"); err != nil {
				t.Fatal(err)
			}
			if len(labTraces(t, name, dir)) == 0 {
				t.Fatal("no traces of a running lab: the check is blind")
			}
			// Every process of the lab, wherever it came from: the sshds,
			// the session's sshd and its sleep.
			var pids []int
			for _, h := range lab.allHosts() {
				p, err := namespacePIDs(h.Namespace)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, p...)
			}
			if min := len(lab.allHosts()) + 2; len(pids) < min {
				t.Fatalf("%d processes in the lab, want at least %d", len(pids), min)
			}
			if err := lab.Down(ctx); err != nil {
				t.Fatal(err)
			}
			for _, pid := range pids {
				if processAlive(pid) {
					t.Errorf("process %d of the lab survives Down", pid)
				}
			}
			if tr := labTraces(t, name, dir); len(tr) > 0 {
				t.Errorf("after Down: %v", tr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state dir after Down: %v", err)
			}
			if err := lab.Down(ctx); err != nil {
				t.Errorf("second Down: %v", err)
			}
		})
	}
}

func TestLabUpAfterCrash(t *testing.T) {
	skipUnlessRoot(t)
	ctx := context.Background()
	name := fmt.Sprintf("tcrash%d", os.Getpid()%10000)
	dir := filepath.Join(t.TempDir(), "state")
	spec := Spec{Name: name, Hosts: 2, StateDir: dir, OwnerPID: os.Getpid()}
	first, err := Up(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Down(context.Background()) })
	// The crash: sshds killed hard, namespaces and links left, lab.json
	// left.
	for _, h := range first.Hosts {
		pid := sshdPID(h)
		if pid == 0 {
			t.Fatalf("%s: no sshd", h.Name)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(ctx, []int{pid}, 3*time.Second) {
			t.Fatalf("sshd %d survives SIGKILL", pid)
		}
	}
	second, err := Up(ctx, spec)
	if err != nil {
		t.Fatalf("Up after crash: %v", err)
	}
	t.Cleanup(func() {
		if err := second.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	for _, h := range second.Hosts {
		checkHost(t, second, h.Name)
	}
	links, _ := labRootLinks(name)
	if len(links) != 3 { // the bridge and two veths, not twice that
		t.Errorf("root links after recovery: %v", links)
	}
}

func TestLabReattachAndFailures(t *testing.T) {
	lab := ForTest(t, Spec{Hosts: 2})
	ctx := context.Background()
	again, err := Open(ctx, lab.Name, lab.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Hosts[1].Address != lab.Hosts[1].Address || again.Inventory != lab.Inventory {
		t.Errorf("Open = %+v, want %+v", again, lab)
	}
	if _, err := Open(ctx, "tnosuchlab", ""); !errors.Is(err, ErrNoLab) {
		t.Errorf("Open of a missing lab: %v, want ErrNoLab", err)
	}

	if err := again.StopSSHD(ctx, "pg2"); err != nil {
		t.Fatal(err)
	}
	if _, err := dialHost(t, lab, "pg2"); err == nil {
		t.Error("ssh to pg2 works with its sshd stopped")
	}
	st, _ := lab.Status(ctx)
	if st.Hosts[1].SSHDAlive() || !st.Hosts[0].SSHDAlive() {
		t.Errorf("status after StopSSHD pg2: %+v", st.Hosts)
	}
	if err := again.StartSSHD(ctx, "pg2"); err != nil {
		t.Fatal(err)
	}
	checkHost(t, lab, "pg2")

	if err := lab.ReplaceHostKey(ctx, "pg1"); err != nil {
		t.Fatal(err)
	}
	_, err = dialHost(t, lab, "pg1")
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		t.Errorf("ssh to pg1 with a replaced host key: %v, want a key mismatch", err)
	}

	out, err := lab.Exec(ctx, "pg2", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(string(out), " "+lab.Hosts[1].Address+"/24 ") {
		t.Errorf("Exec ip addr on pg2: %q, %v", out, err)
	}
}

// An Up that fails half way (here: sshd does not start) leaves nothing
// behind, the hosts' cgroups included when the machine can make them.
func TestLabFailedUpLeavesNothing(t *testing.T) {
	skipUnlessRoot(t)
	saved := sshdBinary
	sshdBinary = "/bin/false"
	t.Cleanup(func() { sshdBinary = saved })
	name := fmt.Sprintf("tfail%d", os.Getpid()%10000)
	dir := filepath.Join(t.TempDir(), "state")
	spec := Spec{Name: name, Hosts: 2, Bastion: true, StateDir: dir, OwnerPID: os.Getpid()}
	if err := CheckHostCPU(); err == nil {
		spec.HostCPU = 0.5
	} else {
		t.Logf("without host CPU budgets: %v", err)
	}
	lab, err := Up(context.Background(), spec)
	if err == nil {
		lab.Down(context.Background())
		t.Fatal("Up succeeded without sshd")
	}
	if !strings.Contains(err.Error(), "start sshd") {
		t.Errorf("Up error = %v, want it to name the sshd start", err)
	}
	if tr := labTraces(t, name, dir); len(tr) > 0 {
		t.Errorf("after a failed Up: %v", tr)
	}
}
