package runbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// peerAction opens another host's Target with Peer and records what it
// got; the step itself always succeeds, so the recap shows whether a
// peer's trouble leaked into the step's host.
type peerAction struct {
	seen *peerSeen
	Peer string `yaml:"peer"`
}

// peerSeen collects what peerAction's runs found, by host.
type peerSeen struct {
	mu      sync.Mutex
	targets map[string]*Target
	errs    map[string]error
}

func (a *peerAction) Run(ctx context.Context, t *Target) (Outcome, error) {
	p, err := t.Peer(ctx, a.Peer)
	a.seen.mu.Lock()
	defer a.seen.mu.Unlock()
	a.seen.targets[t.Host.Name], a.seen.errs[t.Host.Name] = p, err
	if p != nil {
		// The peer's output shows under the step of the host that asked.
		p.Output("stdout", "from "+p.Host.Name)
	}
	return Outcome{}, nil
}

func peerStep(t *testing.T, seen *peerSeen, peer string) *Step {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(fmt.Sprintf("{peer: %s}", peer)), &doc); err != nil {
		t.Fatal(err)
	}
	kind := &Kind{Name: "peer", New: func() Action { return &peerAction{seen: seen} }}
	become := "postgres"
	return &Step{Name: "open " + peer, Kind: kind, Params: doc.Content[0], Become: &become}
}

func TestTargetPeer(t *testing.T) {
	cases := []struct {
		name        string
		peer        string
		unreachable []string
		check       bool
		// wantErr is a part of Peer's error; "" means Peer succeeds.
		wantErr         string
		wantPeerUnreach bool
	}{
		{name: "another host of the inventory", peer: "pg2"},
		{name: "under check", peer: "pg2", check: true},
		{name: "the host itself", peer: "pg1"},
		{name: "no such host", peer: "pg9", wantErr: "open host pg9: no such inventory host"},
		{name: "unreachable peer", peer: "pg2", unreachable: []string{"pg2"},
			wantErr: "connect pg2: dial pg2: connection refused", wantPeerUnreach: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lab := newFakeLab(tc.unreachable...)
			seen := &peerSeen{targets: map[string]*Target{}, errs: map[string]error{}}
			pb := playbook(peerStep(t, seen, tc.peer), peerStep(t, seen, tc.peer))
			pb.Hosts = "pg1"
			inv := fakeInventory(2)
			inv.Hosts["pg2"].Vars["pgdata"] = "/srv/pg2"
			recap, log := runFake(t, pb, inv, lab, func(o *RunOptions) { o.Check = tc.check })
			if got := recap.Hosts["pg1"]; got != (HostRecap{OK: 2}) {
				t.Errorf("pg1 recap %+v, want 2 ok whatever the peer did", got)
			}
			p, err := seen.targets["pg1"], seen.errs["pg1"]
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Peer(%s) = %v, want an error with %q", tc.peer, err, tc.wantErr)
				}
				if errors.Is(err, ErrPeerUnreachable) != tc.wantPeerUnreach || transport.IsUnreachable(err) {
					t.Errorf("Peer(%s) = %v: matches ErrPeerUnreachable %v (want %v), transport.ErrUnreachable %v (want false)",
						tc.peer, err, errors.Is(err, ErrPeerUnreachable), tc.wantPeerUnreach, transport.IsUnreachable(err))
				}
				if tc.wantPeerUnreach && lab.dials[tc.peer] != 1 {
					t.Errorf("unreachable peer dialled %d times, want once (remembered)", lab.dials[tc.peer])
				}
				return
			}
			if err != nil {
				t.Fatalf("Peer(%s): %v", tc.peer, err)
			}
			if p.Host.Name != tc.peer || p.Conn.(*fakeConn).host != tc.peer {
				t.Errorf("peer target is host %s on the connection of %s, want %s", p.Host.Name, p.Conn.(*fakeConn).host, tc.peer)
			}
			if p.Become != "postgres" || p.Check != tc.check {
				t.Errorf("peer become %q check %v, want the step's (postgres, %v)", p.Become, p.Check, tc.check)
			}
			if p.Host.Vars["address"] == nil || p.Host.Vars["inventory_hostname"] != tc.peer {
				t.Errorf("peer vars %v: want the peer's merged variables", p.Host.Vars)
			}
			if tc.peer == "pg2" && p.Host.Vars["pgdata"] != "/srv/pg2" {
				t.Errorf("peer pgdata %v, want its own /srv/pg2", p.Host.Vars["pgdata"])
			}
			if n := lab.dials[tc.peer]; n != 1 {
				t.Errorf("%s dialled %d times for two steps, want one shared connection", tc.peer, n)
			}
			for _, c := range lab.conns {
				if c.closed != 1 {
					t.Errorf("connection to %s closed %d times, want once at the end of the run", c.host, c.closed)
				}
			}
			if !strings.Contains(joinLines(log.of("pg1")), "output open "+tc.peer+" stdout:from "+tc.peer) {
				t.Errorf("the peer's output is not under pg1's step:\n%s", joinLines(log.of("pg1")))
			}
		})
	}
}

func TestTargetPeerWithoutExecutor(t *testing.T) {
	for _, tg := range []*Target{nil, {}} {
		if _, err := tg.Peer(context.Background(), "pg2"); !errors.Is(err, ErrNoPeers) {
			t.Errorf("Peer on %#v: %v, want ErrNoPeers", tg, err)
		}
	}
}
