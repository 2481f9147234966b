package steps

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestModeYAML(t *testing.T) {
	tests := []struct {
		src     string
		want    Mode
		wantErr bool
	}{
		{`mode: "0600"`, 0o600, false},
		{`mode: 0600`, 0o600, false},
		{`mode: 600`, 0o600, false},
		{`mode: 0o750`, 0o750, false},
		{`mode: "4755"`, 0o4755, false},
		{`mode: "0900"`, 0, true},
		{`mode: 17777`, 0, true},
		{`mode: rw`, 0, true},
		{`mode: [1]`, 0, true},
	}
	for _, tt := range tests {
		var v struct {
			Mode *Mode `yaml:"mode"`
		}
		err := yaml.Unmarshal([]byte(tt.src), &v)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.src, err)
			continue
		}
		if err == nil && *v.Mode != tt.want {
			t.Errorf("%s: mode %s; want %s", tt.src, v.Mode, tt.want)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		src     string
		want    time.Duration
		wantErr bool
	}{
		{`d: 60s`, time.Minute, false},
		{`d: 1m30s`, 90 * time.Second, false},
		{`d: 5`, 5 * time.Second, false},
		{`d: 0.5`, 500 * time.Millisecond, false},
		{`d: -1s`, 0, true},
		{`d: soon`, 0, true},
	}
	for _, tt := range tests {
		var v struct {
			D Duration `yaml:"d"`
		}
		err := yaml.Unmarshal([]byte(tt.src), &v)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.src, err)
			continue
		}
		if err == nil && time.Duration(v.D) != tt.want {
			t.Errorf("%s: %s; want %s", tt.src, time.Duration(v.D), tt.want)
		}
	}
}

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
