package steps

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestKindsDecode decodes a playbook-style value into every kind strictly,
// so that the yaml tags are the documented parameter names.
func TestKindsDecode(t *testing.T) {
	values := map[string]string{
		"command": `{argv: [pg_ctl, status], creates: /x, removes: /y, chdir: /tmp, env: {A: b}, stdin: "x"}`,
		"file":    `{path: /x, state: directory, mode: "0700", owner: postgres, group: postgres, recurse: false}`,
		"rename":  `{src: /a, dest: /b, force: true}`,
		"conf":    `{path: /x, set: {port: 5432, hot_standby: on}, unset: [restore_command], mode: "0600", owner: postgres, group: postgres}`,
		"copy":    `{src: a, dest: /b, mode: 0640, owner: postgres, group: postgres}`,
		"wait":    `{port: 5432, host: 127.0.0.1, timeout: 60s, interval: 1s}`,
		"sql":     `{conninfo: "host=127.0.0.1", query: "SELECT $1", args: [1], changed: false}`,
	}
	kinds := Kinds()
	if len(kinds) != len(values) {
		t.Fatalf("%d kinds; want %d", len(kinds), len(values))
	}
	for _, k := range kinds {
		src, ok := values[k.Name]
		if !ok {
			t.Errorf("untested kind %s", k.Name)
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		a := k.New()
		if err := n.Content[0].Decode(a); err != nil {
			t.Errorf("%s: decode: %v", k.Name, err)
			continue
		}
		if v, ok := a.(interface{ Validate() error }); !ok {
			t.Errorf("%s: no Validate", k.Name)
		} else if err := v.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", k.Name, err)
		}
		if k.New() == a {
			t.Errorf("%s: New returns a shared value", k.Name)
		}
	}
}
