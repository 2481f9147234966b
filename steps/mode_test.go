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
