package testenv

import (
	"strings"
	"testing"
	"time"
)

func TestSpecNormalize(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		hosts   []string
		wantErr string
	}{
		{"default one host", Spec{Name: "a"}, []string{"pg1"}, ""},
		{"three hosts", Spec{Name: "lab", Hosts: 3}, []string{"pg1", "pg2", "pg3"}, ""},
		{"explicit names win", Spec{Name: "lab", Hosts: 5, HostNames: []string{"old", "new"}}, []string{"old", "new"}, ""},
		{"longest name", Spec{Name: "abcdefghij", Hosts: MaxHosts}, nil, ""},
		{"name too long", Spec{Name: "abcdefghijk"}, nil, "lab name"},
		{"name with dash", Spec{Name: "a-b"}, nil, "lab name"},
		{"name starts with digit", Spec{Name: "1a"}, nil, "lab name"},
		{"empty name", Spec{}, nil, "lab name"},
		{"too many hosts", Spec{Name: "a", Hosts: MaxHosts + 1}, nil, "hosts"},
		{"negative hosts", Spec{Name: "a", Hosts: -1}, nil, "hosts"},
		{"bad host name", Spec{Name: "a", HostNames: []string{"Pg1"}}, nil, "host name"},
		{"duplicate host", Spec{Name: "a", HostNames: []string{"x", "x"}}, nil, "twice"},
		{"bastion name taken", Spec{Name: "a", HostNames: []string{"bastion"}, Bastion: true}, nil, "bastion"},
		{"bastion name free without bastion", Spec{Name: "a", HostNames: []string{"bastion"}}, []string{"bastion"}, ""},
		{"host CPU budget", Spec{Name: "a", HostCPU: 0.2}, []string{"pg1"}, ""},
		{"smallest host CPU budget", Spec{Name: "a", HostCPU: MinHostCPU}, []string{"pg1"}, ""},
		{"host CPU budget too small", Spec{Name: "a", HostCPU: MinHostCPU / 2}, nil, "host CPU budget"},
		{"negative host CPU budget", Spec{Name: "a", HostCPU: -0.2}, nil, "host CPU budget"},
		{"host CPU budget above the machine's", Spec{Name: "a", HostCPU: 1e6}, nil, "host CPU budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.spec.normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.hosts != nil && strings.Join(got.HostNames, ",") != strings.Join(tt.hosts, ",") {
				t.Errorf("hosts = %v, want %v", got.HostNames, tt.hosts)
			}
			if got.StateDir != DefaultStateDir(tt.spec.Name) {
				t.Errorf("state dir = %s", got.StateDir)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		slots []int
		// want host name -> address, bastion of the host
		addrs   map[string]string
		bastion string
	}{
		{"flat", Spec{Name: "lab", Hosts: 2}, []int{7}, map[string]string{"pg1": "10.77.7.11", "pg2": "10.77.7.12"}, ""},
		{"bastion", Spec{Name: "lab", Hosts: 2, Bastion: true}, []int{3, 4},
			map[string]string{"bastion": "10.77.3.2", "pg1": "10.77.4.11", "pg2": "10.77.4.12"}, "bastion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := tt.spec.normalize()
			if err != nil {
				t.Fatal(err)
			}
			l := layout(spec, tt.slots)
			for name, addr := range tt.addrs {
				h := l.Host(name)
				if h == nil || h.Address != addr {
					t.Fatalf("host %s = %+v, want address %s", name, h, addr)
				}
				if name != BastionName && h.Bastion != tt.bastion {
					t.Errorf("host %s: bastion %q, want %q", name, h.Bastion, tt.bastion)
				}
			}
			if len(l.allHosts()) != len(tt.addrs) {
				t.Errorf("%d hosts, want %d", len(l.allHosts()), len(tt.addrs))
			}
		})
	}
}

// Interface names longer than 15 bytes are refused by the kernel; the
// longest lab name with the most hosts must still fit.
func TestInterfaceNamesFit(t *testing.T) {
	name := strings.Repeat("z", 10)
	for _, n := range []string{outerBridge(name), innerBridge(name), vethName(name, 0), vethName(name, MaxHosts)} {
		if len(n) > 15 {
			t.Errorf("interface name %q is %d bytes", n, len(n))
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50 18446744073709551615"
	st, err := parseProcStat(4242, line)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'S' || st.Start != 987654 || st.PPID != 1 || st.CPU != 30*time.Millisecond {
		t.Errorf("got %+v", st)
	}
	if _, err := parseProcStat(1, "1 (x) S 1 2"); err == nil {
		t.Error("short stat line accepted")
	}
}
