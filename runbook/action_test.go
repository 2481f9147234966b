package runbook

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestStepAction(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook("testdata/rejoin.yml", ptKinds())
	if err != nil {
		t.Fatal(err)
	}
	vars := inv.HostVars(inv.Hosts["pg1"], pb, map[string]any{"jobs": "4"})
	act, err := pb.Steps[1].Action(vars)
	if err != nil {
		t.Fatalf("Action: %v", err)
	}
	want := &ptRewind{
		Pgdata:       "/srv/pg/15/main",
		SourceServer: "host=10.77.0.12 port=5432 user=rewind dbname=postgres",
		Jobs:         4,
		Opts:         ptRewindOpts{Wait: 30 * time.Second},
		Set:          map[string]any{"port": 5432, "cluster_name": "db1"},
	}
	if !reflect.DeepEqual(act, want) {
		t.Errorf("Action = %#v\nwant %#v", act, want)
	}
	// The step's node is untouched: the next host renders its own values.
	if v := pb.Steps[1].Params.Content[1].Value; v != "{{ .pgdata }}" {
		t.Errorf("params changed by Action: %q", v)
	}
	act, err = pb.Steps[2].Action(vars)
	if err != nil {
		t.Fatalf("Action scalar: %v", err)
	}
	if c := act.(*ptCommand); c.Cmd != "pg_controldata '/srv/pg/15/main'" {
		t.Errorf("scalar command = %q", c.Cmd)
	}
}

func TestStepActionErrors(t *testing.T) {
	kinds := map[string]*Kind{}
	for _, k := range ptKinds() {
		kinds[k.Name] = k
	}
	tests := []struct {
		name   string
		kind   string
		params string
		vars   map[string]any
		want   string
	}{
		// The rendered value may be a secret: the error names its template,
		// never the value.
		{"type", "fake_rewind", "pgdata: /x\njobs: \"{{ .j }}\"", map[string]any{"j": "s3cret-pw"},
			`f.yml:2:7: step "s": fake_rewind.jobs: want int, got a string (the value of "{{ .j }}")`},
		// Two values on one line: the error names the one that is wrong.
		{"flow mapping", "fake_rewind", "{pgdata: /d, jobs: abc}", nil,
			`f.yml:1:20: step "s": fake_rewind.jobs: want int, got a string`},
		{"flow mapping long value", "fake_rewind", "{pgdata: /data/pg/15/main, jobs: abcdefghijklmnop}", nil,
			`f.yml:1:34: step "s": fake_rewind.jobs: want int, got a string`},
		{"nested type", "fake_rewind", "pgdata: /x\ntargets:\n  - path: [a]", nil,
			`f.yml:3:11: step "s": fake_rewind.targets[0].path: want string, got a list`},
		{"missing", "fake_rewind", "pgdata: \"{{ .nope }}\"", nil, `f.yml:1:9: step "s": variable "nope" is not defined`},
		{"validator", "fake_rewind", "jobs: 2", nil, `f.yml:7:3: step "s": fake_rewind: pgdata is required`},
		{"unknown key", "fake_rewind", "pgdata: /x\nopts: {wiat: 1s}", nil,
			`f.yml:2:8: step "s": unknown key "wiat" in fake_rewind.opts (known: wait, debug)`},
		{"scalar refused", "fake_stop", "/x", nil, `f.yml:1:1: step "s": fake_stop takes a mapping of parameters, not the string "/x"`},
		{"inline ok", "fake_command", "creates: /x\ncmd: \"{{ .c }}\"", map[string]any{"c": "true"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.params), &doc); err != nil {
				t.Fatal(err)
			}
			s := &Step{Name: "s", Pos: Pos{"f.yml", 7, 3}, Kind: kinds[tt.kind], Params: doc.Content[0]}
			_, err := s.Action(tt.vars)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Action: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Action error = %v\nwant %s", err, tt.want)
			}
			if !strings.Contains(err.Error(), "step \"s\"") {
				t.Errorf("error does not name the step")
			}
		})
	}
}

func TestScalarTag(t *testing.T) {
	tests := map[string]string{
		"5432": "!!int", "-1": "!!int", "0": "!!int", "0700": "!!str", "0x1F": "!!str",
		"1.5": "!!float", ".5": "!!float", "1e3": "!!str", "2.5e3": "!!float",
		"true": "!!bool", "false": "!!bool", "yes": "!!str", "null": "!!str", "": "!!str",
		"host=pg1 port=5432": "!!str", "2001-12-14": "!!str",
	}
	for in, want := range tests {
		if got := scalarTag(in); got != want {
			t.Errorf("scalarTag(%q) = %s, want %s", in, got, want)
		}
	}
}
