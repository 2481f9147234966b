package runbook

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

func TestSSHConfigFor(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	login := loginUser()
	defaultKnown := []string{filepath.Join(home, ".ssh/known_hosts")}
	inv := &Inventory{Hosts: map[string]*Host{
		"bastion": {Name: "bastion", Vars: map[string]any{"address": "10.77.1.1", "user": "jump",
			"ssh_key": "/keys/jump", "known_hosts": "/kh"}},
		"outer": {Name: "outer", Vars: map[string]any{"address": "10.77.2.1", "bastion": "bastion", "known_hosts": "/kh"}},
		"loop1": {Name: "loop1", Vars: map[string]any{"bastion": "loop2"}},
		"loop2": {Name: "loop2", Vars: map[string]any{"bastion": "loop1"}},
	}, Groups: map[string]*Group{"all": {Name: "all", Hosts: []string{"bastion", "outer", "loop1", "loop2"}}}}
	tests := []struct {
		name string
		host string
		vars map[string]any
		want transport.SSHConfig
		err  string
	}{
		{
			name: "defaults", host: "pg1", vars: map[string]any{},
			want: transport.SSHConfig{Name: "pg1", Addr: "pg1:22", User: login, KnownHosts: defaultKnown},
		},
		{
			name: "everything set",
			host: "pg1",
			vars: map[string]any{"address": "10.77.0.11", "port": 2222, "user": "pgrb",
				"ssh_key": []any{"~/.ssh/id_ed25519", "/k2"}, "known_hosts": "/lab/known_hosts",
				"connect_timeout": "3s", "use_agent": true, "keepalive_interval": 2, "keepalive_max": "4"},
			want: transport.SSHConfig{Name: "pg1", Addr: "10.77.0.11:2222", User: "pgrb",
				KeyFiles: []string{filepath.Join(home, ".ssh/id_ed25519"), "/k2"}, UseAgent: true,
				KnownHosts: []string{"/lab/known_hosts"}, ConnectTimeout: 3 * time.Second,
				KeepaliveInterval: 2 * time.Second, KeepaliveMax: 4},
		},
		{
			name: "ipv6 address and port as a string",
			host: "pg1", vars: map[string]any{"address": "fd00::1", "port": "2200", "user": "u", "known_hosts": "/kh"},
			want: transport.SSHConfig{Name: "pg1", Addr: "[fd00::1]:2200", User: "u", KnownHosts: []string{"/kh"}},
		},
		{
			name: "bastion from the inventory, with its own variables",
			host: "pg1", vars: map[string]any{"address": "10.77.9.11", "user": "pgrb", "bastion": "bastion", "known_hosts": "/kh"},
			want: transport.SSHConfig{Name: "pg1", Addr: "10.77.9.11:22", User: "pgrb", KnownHosts: []string{"/kh"},
				Bastion: &transport.SSHConfig{Name: "bastion", Addr: "10.77.1.1:22", User: "jump", KeyFiles: []string{"/keys/jump"},
					KnownHosts: []string{"/kh"}}},
		},
		{
			name: "bastions chain",
			host: "pg1", vars: map[string]any{"user": "u", "bastion": "outer", "known_hosts": "/kh"},
			want: transport.SSHConfig{Name: "pg1", Addr: "pg1:22", User: "u", KnownHosts: []string{"/kh"},
				Bastion: &transport.SSHConfig{Name: "outer", Addr: "10.77.2.1:22", User: login, KnownHosts: []string{"/kh"},
					Bastion: &transport.SSHConfig{Name: "bastion", Addr: "10.77.1.1:22", User: "jump", KeyFiles: []string{"/keys/jump"},
						KnownHosts: []string{"/kh"}}}},
		},
		{
			name: "bastion as user@addr:port inherits keys and known_hosts",
			host: "pg1", vars: map[string]any{"user": "u", "ssh_key": "/k", "known_hosts": "/kh", "bastion": "jump@10.77.3.1:2022"},
			want: transport.SSHConfig{Name: "pg1", Addr: "pg1:22", User: "u", KeyFiles: []string{"/k"}, KnownHosts: []string{"/kh"},
				Bastion: &transport.SSHConfig{Addr: "10.77.3.1:2022", User: "jump", KeyFiles: []string{"/k"}, KnownHosts: []string{"/kh"}}},
		},
		{
			name: "bastion address alone",
			host: "pg1", vars: map[string]any{"user": "u", "known_hosts": "/kh", "bastion": "10.77.3.1"},
			want: transport.SSHConfig{Name: "pg1", Addr: "pg1:22", User: "u", KnownHosts: []string{"/kh"},
				Bastion: &transport.SSHConfig{Addr: "10.77.3.1:22", User: "u", KnownHosts: []string{"/kh"}}},
		},
		{name: "bad port", host: "pg1", vars: map[string]any{"port": "ssh"}, err: `host pg1: variable "port": want an integer`},
		{name: "port out of range", host: "pg1", vars: map[string]any{"port": 70000}, err: `host pg1: variable "port": want a port between 1 and 65535`},
		{name: "bad key list", host: "pg1", vars: map[string]any{"ssh_key": []any{1}}, err: `host pg1: variable "ssh_key"`},
		{name: "bad timeout", host: "pg1", vars: map[string]any{"connect_timeout": "soon"}, err: `host pg1: variable "connect_timeout"`},
		{name: "bad agent flag", host: "pg1", vars: map[string]any{"use_agent": "maybe"}, err: `host pg1: variable "use_agent": want true or false`},
		{name: "bad user", host: "pg1", vars: map[string]any{"user": []any{"a"}}, err: `host pg1: variable "user": want a string`},
		{name: "bad bastion", host: "pg1", vars: map[string]any{"bastion": "nosuch:port"}, err: `host pg1: variable "bastion": "nosuch:port" is neither an inventory host nor user@addr:port`},
		{name: "bastion loop", host: "loop1", vars: map[string]any{"bastion": "loop2"}, err: `bastion loop: loop1 -> loop2 -> loop1`},
		{name: "a host its own bastion", host: "loop1", vars: map[string]any{"bastion": "loop1"}, err: `bastion loop: loop1 -> loop1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := inv.Hosts[tt.host]
			if h == nil {
				h = &Host{Name: tt.host}
			}
			got, err := SSHConfigFor(inv, h, tt.vars)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", describeSSH(got), describeSSH(tt.want))
			}
		})
	}
}

func describeSSH(c transport.SSHConfig) string {
	s := c
	s.Bastion = nil
	out := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(
		strings.Join([]string{s.Addr, s.User, strings.Join(s.KeyFiles, ","), strings.Join(s.KnownHosts, ",")}, " "), "\n", ""), "  ", " "))
	if c.Bastion != nil {
		out += " via (" + describeSSH(*c.Bastion) + ")"
	}
	return out
}

func TestDefaultDial(t *testing.T) {
	r := &execution{inv: &Inventory{Hosts: map[string]*Host{}}}
	h := &Host{Name: "pg1"}
	conn, err := r.dial(context.Background(), h, map[string]any{"connection": "local"})
	if err != nil || reflect.TypeOf(conn) != reflect.TypeOf(transport.NewLocal()) {
		t.Errorf("connection local: %T, %v; want the local transport", conn, err)
	}
	for vars, want := range map[*map[string]any]string{
		{"connection": "telnet"}: `host pg1: variable "connection": "telnet" is neither ssh nor local`,
		{"port": "x"}:            `host pg1: variable "port"`,
	} {
		if _, err := r.dial(context.Background(), h, *vars); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("dial %v: error %v, want %q", *vars, err, want)
		}
	}
}
