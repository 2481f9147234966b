package runbook

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// The inventory variables that say how to reach a host. They are ordinary
// variables, so they may be set at any level (all, group, host, -e).
const (
	VarAddress        = "address"            // host name or IP; default: the inventory name
	VarPort           = "port"               // SSH port; default 22
	VarUser           = "user"               // login user; default: the user running pgrunbook
	VarSSHKey         = "ssh_key"            // private key file, or a list of them
	VarKnownHosts     = "known_hosts"        // known_hosts file, or a list; default ~/.ssh/known_hosts
	VarBastion        = "bastion"            // an inventory host name, or user@addr:port
	VarConnectTimeout = "connect_timeout"    // Go duration ("10s") or seconds
	VarUseAgent       = "use_agent"          // offer ssh-agent's keys too
	VarKeepalive      = "keepalive_interval" // Go duration or seconds between keepalives
	VarKeepaliveMax   = "keepalive_max"      // unanswered keepalives before the host is unreachable
	// VarConnection is "ssh" (the default) or "local": run the host's steps
	// on this machine through transport.NewLocal, for tests and for a run
	// on the database host itself.
	VarConnection = "connection"
)

// SSHConfigFor maps host h's variables to the SSH settings of its
// connection. A bastion that names an inventory host is configured from
// that host's own inventory variables, recursively, so bastions chain; a
// bastion written as user@addr:port takes its keys and known_hosts from h.
// Errors name the host and the variable.
func SSHConfigFor(inv *Inventory, h *Host, vars map[string]any) (transport.SSHConfig, error) {
	return sshConfigFor(inv, h, vars, []string{h.Name})
}

func sshConfigFor(inv *Inventory, h *Host, vars map[string]any, chain []string) (transport.SSHConfig, error) {
	cfg := transport.SSHConfig{Name: h.Name}
	bad := func(name string, err error) (transport.SSHConfig, error) {
		return transport.SSHConfig{}, fmt.Errorf("host %s: variable %q: %w", h.Name, name, err)
	}
	addr, err := stringVar(vars, VarAddress, h.Name)
	if err != nil {
		return bad(VarAddress, err)
	}
	port, err := portVar(vars, VarPort)
	if err != nil {
		return bad(VarPort, err)
	}
	cfg.Addr = net.JoinHostPort(addr, strconv.Itoa(port))
	if cfg.User, err = stringVar(vars, VarUser, ""); err != nil {
		return bad(VarUser, err)
	}
	if cfg.User == "" {
		cfg.User = loginUser()
	}
	if cfg.KeyFiles, err = pathsVar(vars, VarSSHKey, nil); err != nil {
		return bad(VarSSHKey, err)
	}
	if cfg.KnownHosts, err = pathsVar(vars, VarKnownHosts, []string{"~/.ssh/known_hosts"}); err != nil {
		return bad(VarKnownHosts, err)
	}
	if cfg.ConnectTimeout, err = durationVar(vars, VarConnectTimeout); err != nil {
		return bad(VarConnectTimeout, err)
	}
	if cfg.KeepaliveInterval, err = durationVar(vars, VarKeepalive); err != nil {
		return bad(VarKeepalive, err)
	}
	if cfg.KeepaliveMax, err = intVar(vars, VarKeepaliveMax); err != nil {
		return bad(VarKeepaliveMax, err)
	}
	if cfg.UseAgent, err = boolVar(vars, VarUseAgent); err != nil {
		return bad(VarUseAgent, err)
	}
	bastion, err := stringVar(vars, VarBastion, "")
	if err != nil {
		return bad(VarBastion, err)
	}
	if bastion == "" {
		return cfg, nil
	}
	hop, err := bastionConfig(inv, bastion, cfg, chain)
	if err != nil {
		return bad(VarBastion, err)
	}
	cfg.Bastion = &hop
	return cfg, nil
}

// bastionConfig resolves a bastion: an inventory host, or user@addr:port
// reached with the same keys and known_hosts as the host behind it.
func bastionConfig(inv *Inventory, bastion string, behind transport.SSHConfig, chain []string) (transport.SSHConfig, error) {
	if b := inventoryHost(inv, bastion); b != nil {
		if slices.Contains(chain, b.Name) {
			return transport.SSHConfig{}, fmt.Errorf("bastion loop: %s -> %s", strings.Join(chain, " -> "), b.Name)
		}
		return sshConfigFor(inv, b, inv.HostVars(b, nil, nil), append(slices.Clip(chain), b.Name))
	}
	login, hostport, ok := strings.Cut(bastion, "@")
	if !ok {
		login, hostport = behind.User, bastion
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), "22"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" || login == "" {
		return transport.SSHConfig{}, fmt.Errorf("%q is neither an inventory host nor user@addr:port", bastion)
	}
	hop := behind
	hop.Name = ""
	hop.Addr = net.JoinHostPort(host, port)
	hop.User = login
	hop.Bastion = nil
	return hop, nil
}

func inventoryHost(inv *Inventory, name string) *Host {
	if inv == nil {
		return nil
	}
	return inv.Hosts[name]
}

func stringVar(vars map[string]any, name, def string) (string, error) {
	v, ok := vars[name]
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case string:
		if v == "" {
			return def, nil
		}
		return v, nil
	case int, int64, float64:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("want a string, got %T", v)
}

func intVar(vars map[string]any, name string) (int, error) {
	switch v := vars[name].(type) {
	case nil:
		return 0, nil
	case int:
		return v, nil
	case int64:
		return int(v), nil
	case uint64:
		return int(v), nil
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %v", vars[name])
}

func portVar(vars map[string]any, name string) (int, error) {
	p, err := intVar(vars, name)
	if err != nil {
		return 0, err
	}
	if p == 0 {
		return 22, nil
	}
	if p < 1 || p > 65535 {
		return 0, fmt.Errorf("want a port between 1 and 65535, got %d", p)
	}
	return p, nil
}

// durationVar accepts a Go duration ("10s") or a number of seconds.
func durationVar(vars map[string]any, name string) (time.Duration, error) {
	switch v := vars[name].(type) {
	case time.Duration:
		if v >= 0 {
			return v, nil
		}
	case string:
		if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d >= 0 {
			return d, nil
		}
	}
	n, err := intVar(vars, name)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a duration like 10s or a number of seconds, got %v", vars[name])
	}
	return time.Duration(n) * time.Second, nil
}

func boolVar(vars map[string]any, name string) (bool, error) {
	switch v := vars[name].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0", "":
			return false, nil
		}
	}
	return false, fmt.Errorf("want true or false, got %v", vars[name])
}

// pathsVar accepts one path or a list of paths; "~/" is the home
// directory of the user running pgrunbook.
func pathsVar(vars map[string]any, name string, def []string) ([]string, error) {
	var raw []string
	switch v := vars[name].(type) {
	case nil:
		raw = def
	case string:
		raw = []string{v}
	case []string:
		raw = v
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of paths, found %v", e)
			}
			raw = append(raw, s)
		}
	default:
		return nil, fmt.Errorf("want a path or a list of paths, got %T", v)
	}
	var out []string
	for _, p := range raw {
		if p == "" {
			continue
		}
		out = append(out, expandHome(p))
	}
	return out, nil
}

func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p[1:], "/"))
}

// loginUser is the default SSH user: the user running pgrunbook, as ssh(1)
// does.
func loginUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
