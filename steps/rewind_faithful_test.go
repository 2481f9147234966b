package steps

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRewindFaithful checks the faithful parameter: read from YAML, off by
// default, passed to the shipped engine as --faithful, and refused with
// the host's pg_rewind, which has no such flag.
func TestRewindFaithful(t *testing.T) {
	tests := []struct {
		name     string
		params   string
		wantErr  string
		wantFlag bool
	}{
		{name: "default", params: "{pgdata: /d, source_server: host=a}"},
		{name: "off", params: "{pgdata: /d, source_server: host=a, faithful: false}"},
		{name: "on", params: "{pgdata: /d, source_server: host=a, faithful: true}", wantFlag: true},
		{name: "on with the native engine", params: "{pgdata: /d, source_server: host=a, engine: native, faithful: true}", wantFlag: true},
		{name: "off with pg_rewind", params: "{pgdata: /d, source_server: host=a, engine: pg_rewind, faithful: false}"},
		{name: "on with pg_rewind", params: "{pgdata: /d, source_server: host=a, engine: pg_rewind, faithful: true}",
			wantErr: "faithful is for the native engine only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Rewind
			if err := yaml.Unmarshal([]byte(tt.params), &s); err != nil {
				t.Fatal(err)
			}
			err := s.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := slices.Contains(s.rewindArgs(), "--faithful"); got != tt.wantFlag {
				t.Errorf("rewind args %v: --faithful %v, want %v", s.rewindArgs(), got, tt.wantFlag)
			}
			if slices.Contains(s.pgRewindArgs(), "--faithful") {
				t.Errorf("the host's pg_rewind got --faithful: %v", s.pgRewindArgs())
			}
		})
	}
}

// TestRewindStreamCompressParam checks stream_compress: one of auto,
// always and never, and only with source_host.
func TestRewindStreamCompressParam(t *testing.T) {
	tests := []struct {
		name, params, wantErr string
	}{
		{"unset", "{pgdata: /d, source_server: host=a, source_host: pg2}", ""},
		{"always", "{pgdata: /d, source_server: host=a, source_host: pg2, stream_compress: always}", ""},
		{"never", "{pgdata: /d, source_server: host=a, source_host: pg2, stream_compress: never}", ""},
		{"unknown", "{pgdata: /d, source_server: host=a, source_host: pg2, stream_compress: max}", "stream_compress: "},
		{"without source_host", "{pgdata: /d, source_server: host=a, stream_compress: always}", "stream_compress needs source_host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Rewind
			if err := yaml.Unmarshal([]byte(tt.params), &s); err != nil {
				t.Fatal(err)
			}
			err := s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
