package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

func netnsPath(ns string) string { return filepath.Join(netnsDir, ns) }

// createNetwork makes the lab's namespaces, bridges and links. Nothing here
// enables ip_forward: the root namespace talks to hosts on its own bridge,
// and hosts behind a bastion are reached by SSH forwarding from the
// bastion's sshd, which needs no routing.
func (l *Lab) createNetwork(ctx context.Context) error {
	br := outerBridge(l.Name)
	if err := bridgeUp(ctx, "", br, l.Subnet, slotOf(l.Subnet)); err != nil {
		return err
	}
	if l.Bastion == nil {
		for _, h := range l.Hosts {
			if err := attachHost(ctx, "", br, h); err != nil {
				return err
			}
		}
		return nil
	}
	if err := attachHost(ctx, "", br, l.Bastion); err != nil {
		return err
	}
	inner := innerBridge(l.Name)
	if err := bridgeUp(ctx, l.Bastion.Namespace, inner, l.HostSubnet, slotOf(l.HostSubnet)); err != nil {
		return err
	}
	for _, h := range l.Hosts {
		if err := attachHost(ctx, l.Bastion.Namespace, inner, h); err != nil {
			return err
		}
	}
	return nil
}

// slotOf returns K of "10.77.K.0/24".
func slotOf(prefix string) int {
	var k int
	fmt.Sscanf(prefix, "10.77.%d.", &k)
	return k
}

// nsArgs prefixes ip's arguments with -n ns, unless ns is the root
// namespace ("").
func nsArgs(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"-n", ns}, args...)
}

// bridgeUp creates bridge br in namespace ns with address .1 of prefix.
func bridgeUp(ctx context.Context, ns, br, prefix string, slot int) error {
	cidr := fmt.Sprintf("%s/24", slotAddr(slot, bridgeHostNum))
	for _, args := range [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", cidr, "dev", br},
		{"link", "set", br, "up"},
	} {
		if err := ip(ctx, nsArgs(ns, args...)...); err != nil {
			return fmt.Errorf("create bridge %s for %s: %w", br, prefix, err)
		}
	}
	return nil
}

// attachHost creates h's namespace and a veth pair from bridge br (in
// namespace brNS) to eth0 inside it, with h's address.
func attachHost(ctx context.Context, brNS, br string, h *Host) error {
	cidr := h.Address + "/24"
	steps := [][]string{
		{"netns", "add", h.Namespace},
		{"-n", h.Namespace, "link", "set", "lo", "up"},
		nsArgs(brNS, "link", "add", h.Veth, "type", "veth", "peer", "name", "eth0", "netns", h.Namespace),
		nsArgs(brNS, "link", "set", h.Veth, "master", br),
		nsArgs(brNS, "link", "set", h.Veth, "up"),
		{"-n", h.Namespace, "addr", "add", cidr, "dev", "eth0"},
		{"-n", h.Namespace, "link", "set", "eth0", "up"},
	}
	for _, args := range steps {
		if err := ip(ctx, args...); err != nil {
			return fmt.Errorf("attach host %s to %s: %w", h.Name, br, err)
		}
	}
	return nil
}

// labNamespaces lists the namespaces of the lab called name, whether or not
// its state survived.
func labNamespaces(name string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		// Lab names cannot contain '-', so "NAME-" matches only this lab.
		if strings.HasPrefix(e.Name(), name+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// labRootLinks lists the root namespace's links of the lab called name:
// its bridge and the bridge-side veth ends.
func labRootLinks(name string) ([]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `(b[01]|v[0-9]+)$`)
	var out []string
	for _, i := range ifaces {
		if re.MatchString(i.Name) {
			out = append(out, i.Name)
		}
	}
	return out, nil
}

// deleteLink removes a root-namespace link; a link already gone is fine.
func deleteLink(ctx context.Context, name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return nil
	}
	if err := ip(ctx, "link", "del", name); err != nil {
		if _, gone := net.InterfaceByName(name); gone != nil {
			return nil
		}
		return err
	}
	return nil
}

// deleteNamespace removes namespace ns; its veth ends go with it, and so do
// their peers. The caller has killed its processes first: a process left
// inside keeps the namespace, and its links, alive after the name is gone.
func deleteNamespace(ctx context.Context, ns string) error {
	if _, err := os.Stat(netnsPath(ns)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return ip(ctx, "netns", "del", ns)
}

// usedSubnets returns the K of every 10.77.K.0/24 that has an address in
// the root namespace, whoever made it.
func usedSubnets() (map[int]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	used := map[int]bool{}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if v4 := n.IP.To4(); v4 != nil && v4[0] == 10 && v4[1] == 77 {
			used[int(v4[2])] = true
		}
	}
	return used, nil
}

// labRange is all the address space labs use.
const labRange = "10.77.0.0/16"

// guardLabRange makes 10.77.0.0/16 unreachable in the root namespace,
// below the /24 of every lab bridge. Without it a packet for a lab address
// that has no bridge here (a host behind a bastion, a lab already down)
// would follow the default route off this machine; with it, the connect
// fails at once with "no route to host". It is the same for every lab, so
// it stays after Down.
func guardLabRange(ctx context.Context) error {
	if err := ip(ctx, "route", "replace", "unreachable", labRange, "metric", "4242"); err != nil {
		return fmt.Errorf("guard %s: %w", labRange, err)
	}
	return nil
}
