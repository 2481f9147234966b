package testenv

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// The inventory in DESIGN.md's format. Struct fields keep the keys in a
// reading order; yaml.v3 sorts map keys, so host names come out sorted.
type (
	inventoryFile struct {
		All inventoryAll `yaml:"all"`
	}
	inventoryAll struct {
		Hosts    map[string]inventoryHost  `yaml:"hosts"`
		Children map[string]inventoryGroup `yaml:"children"`
		Vars     inventoryVars             `yaml:"vars"`
	}
	inventoryHost struct {
		Address         string `yaml:"address"`
		Port            int    `yaml:"port"`
		User            string `yaml:"user"`
		Bastion         string `yaml:"bastion,omitempty"`
		RemoteDir       string `yaml:"remote_dir,omitempty"`
		inventoryPGHost `yaml:",inline"`
	}
	// inventoryPGHost are a database host's PostgreSQL variables, a
	// convention the playbooks rely on (see postgres_inventory.go).
	inventoryPGHost struct {
		Cluster     string `yaml:"cluster,omitempty"`
		PGData      string `yaml:"pgdata,omitempty"`
		PGSocketDir string `yaml:"pg_socket_dir,omitempty"`
		ArchiveDir  string `yaml:"archive_dir,omitempty"`
		PassFile    string `yaml:"passfile,omitempty"`
		NewPrimary  string `yaml:"new_primary,omitempty"`
	}
	inventoryGroup struct {
		Hosts map[string]struct{} `yaml:"hosts"`
	}
	inventoryVars struct {
		SSHKey          string `yaml:"ssh_key"`
		KnownHosts      string `yaml:"known_hosts"`
		RemoteDir       string `yaml:"remote_dir"`
		inventoryPGVars `yaml:",inline"`
	}
	// inventoryPGVars are the PostgreSQL variables every host shares.
	inventoryPGVars struct {
		BinDir         string `yaml:"bin_dir,omitempty"`
		PGPort         int    `yaml:"pg_port,omitempty"`
		RewindUser     string `yaml:"rewind_user,omitempty"`
		RewindPassword string `yaml:"rewind_password,omitempty"`
	}
)

// DBGroup and BastionGroup are the inventory groups of the database hosts
// and of the bastion.
const (
	DBGroup      = "db"
	BastionGroup = "bastions"
)

// inventoryYAML renders the lab's inventory: every host in all.hosts, the
// database hosts in group db, the bastion (if any) in group bastions only,
// and the connection settings in all.vars. Each database host has its own
// remote_dir, because on a real fleet an upload to one host does not make
// the binary present on another.
func (l *Lab) inventoryYAML() ([]byte, error) {
	inv := inventoryFile{All: inventoryAll{
		Hosts:    map[string]inventoryHost{},
		Children: map[string]inventoryGroup{DBGroup: {Hosts: map[string]struct{}{}}},
		Vars:     inventoryVars{SSHKey: l.Key, KnownHosts: l.KnownHosts, RemoteDir: l.RemoteDir},
	}}
	for _, h := range l.Hosts {
		inv.All.Hosts[h.Name] = inventoryHost{Address: h.Address, Port: h.Port, User: LoginUser, Bastion: h.Bastion, RemoteDir: h.Dirs.RemoteDir}
		inv.All.Children[DBGroup].Hosts[h.Name] = struct{}{}
	}
	if b := l.Bastion; b != nil {
		inv.All.Hosts[b.Name] = inventoryHost{Address: b.Address, Port: b.Port, User: LoginUser}
		inv.All.Children[BastionGroup] = inventoryGroup{Hosts: map[string]struct{}{b.Name: {}}}
	}
	if l.Postgres {
		l.addPGInventory(&inv)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Inventory of pgrunbook lab %s, written by `pgrunbook lab up`; regenerated on every up.\n", l.Name)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return nil, fmt.Errorf("render inventory of lab %s: %w", l.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render inventory of lab %s: %w", l.Name, err)
	}
	return b.Bytes(), nil
}

// sshConfigText renders an ssh_config for OpenSSH's client, so that
// `ssh -F ssh_config pg1` reaches a host by hand, through the bastion when
// there is one.
func (l *Lab) sshConfigText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ssh_config of pgrunbook lab %s: ssh -F %s pg1\n", l.Name, l.SSHConfig)
	for _, h := range l.allHosts() {
		fmt.Fprintf(&b, "\nHost %s\n  HostName %s\n  Port %d\n", h.Name, h.Address, h.Port)
		if h.Bastion != "" {
			fmt.Fprintf(&b, "  ProxyJump %s\n", h.Bastion)
		}
	}
	fmt.Fprintf(&b, "\nHost *\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
		LoginUser, l.Key, l.KnownHosts)
	return b.String()
}
