package testenv

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"

	"gopkg.in/yaml.v3"
)

// AnsibleRemoteTmp is the directory, under a host's remote_dir, that the
// lab's ansible inventory gives ansible-core for its remote temporary
// files, so that ansible writes on a lab host only inside that host's own
// directories (never in the login user's shared home).
const AnsibleRemoteTmp = "ansible-tmp"

// The inventory in ansible-core's YAML format. Host variables are a map,
// since ansible's names for them (ansible_host, ...) are its own.
type (
	ansibleInventoryFile struct {
		All ansibleGroup `yaml:"all"`
	}
	ansibleGroup struct {
		Hosts    map[string]map[string]any `yaml:"hosts,omitempty"`
		Children map[string]ansibleGroup   `yaml:"children,omitempty"`
		Vars     map[string]any            `yaml:"vars,omitempty"`
	}
)

// AnsibleInventory renders the lab as an inventory for ansible-core (its
// YAML format), with the same hosts, groups (db, and bastions with a
// bastion), login user, key and known_hosts as the lab's own inventory, so
// that ansible-playbook and `pgrunbook run` can be compared on the same
// hosts. OpenSSH's client reads the lab's ssh_config (-F), whose Host *
// section pins the key (IdentitiesOnly), the lab's known_hosts and strict
// host key checking, and keeps ~/.ssh/config and /etc/ssh/ssh_config out
// of it. A host behind the bastion is reached with ProxyJump; the jump's
// own ssh gets the same -F, so it logs in to the bastion with the lab's
// key and checks the bastion's key too. Every host's ansible_remote_tmp is
// AnsibleRemoteTmp under its own remote_dir.
func (l *Lab) AnsibleInventory() ([]byte, error) {
	for _, p := range []string{l.SSHConfig, l.Key} {
		if !shellSafe.MatchString(p) {
			return nil, fmt.Errorf("render ansible inventory of lab %s: path %q needs quoting, which ansible's ssh arguments do not survive", l.Name, p)
		}
	}
	common := "-F " + l.SSHConfig
	inv := ansibleInventoryFile{All: ansibleGroup{
		Hosts:    map[string]map[string]any{},
		Children: map[string]ansibleGroup{DBGroup: {Hosts: map[string]map[string]any{}}},
		Vars: map[string]any{
			"ansible_user":                 LoginUser,
			"ansible_ssh_private_key_file": l.Key,
			"ansible_ssh_common_args":      common,
		},
	}}
	for _, h := range l.Hosts {
		vars := map[string]any{
			"ansible_host":       h.Address,
			"ansible_port":       h.Port,
			"ansible_remote_tmp": filepath.Join(h.Dirs.RemoteDir, AnsibleRemoteTmp),
		}
		if h.Bastion != "" {
			b, err := l.host(h.Bastion)
			if err != nil {
				return nil, fmt.Errorf("render ansible inventory: %w", err)
			}
			vars["ansible_ssh_common_args"] = fmt.Sprintf("%s -o ProxyJump=%s@%s:%d", common, LoginUser, b.Address, b.Port)
		}
		inv.All.Hosts[h.Name] = vars
		inv.All.Children[DBGroup].Hosts[h.Name] = map[string]any{}
	}
	if b := l.Bastion; b != nil {
		inv.All.Hosts[b.Name] = map[string]any{
			"ansible_host":       b.Address,
			"ansible_port":       b.Port,
			"ansible_remote_tmp": filepath.Join(l.RemoteDir, AnsibleRemoteTmp),
		}
		inv.All.Children[BastionGroup] = ansibleGroup{Hosts: map[string]map[string]any{b.Name: {}}}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# ansible-core inventory of pgrunbook lab %s: the hosts of %s.\n", l.Name, l.Inventory)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return nil, fmt.Errorf("render ansible inventory of lab %s: %w", l.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render ansible inventory of lab %s: %w", l.Name, err)
	}
	return buf.Bytes(), nil
}

// WriteAnsibleInventory writes AnsibleInventory to path (0600, like the
// lab's own inventory). The name should end in .yml, which is how
// ansible-core picks its YAML inventory parser.
func (l *Lab) WriteAnsibleInventory(path string) error {
	b, err := l.AnsibleInventory()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

// shellSafe matches the paths ansible may split into ssh's arguments
// (shlex) without quoting.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./+-]+$`)
