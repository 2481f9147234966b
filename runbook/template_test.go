package runbook

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	vars := map[string]any{
		"pgdata": "/var/lib/postgresql/15/main",
		"pw":     "it's $secret",
		"port":   5432,
		"list":   []any{"a", "b", 3},
		"strs":   []string{"x", "y"},
		"empty":  "",
		"off":    false,
		"r":      map[string]any{"rc": 0, "stdout": "ok"},
		"Name":   "PG1",
	}
	tests := []struct {
		text, want, err string
	}{
		{"no template", "no template", ""},
		{"{{ .pgdata }}/PG_VERSION", "/var/lib/postgresql/15/main/PG_VERSION", ""},
		{"port={{ .port }}", "port=5432", ""},
		{"{{ .pw | quote }}", `'it'\''s $secret'`, ""},
		{"{{ quote .pgdata }}", "'/var/lib/postgresql/15/main'", ""},
		{`{{ .list | join "," }}`, "a,b,3", ""},
		{`{{ join " " .strs }}`, "x y", ""},
		{`{{ .Name | lower }}-{{ upper "x" }}`, "pg1-X", ""},
		{`{{ .pgdata | replace "15" "16" }}`, "/var/lib/postgresql/16/main", ""},
		{`{{ .empty | default "dflt" }}`, "dflt", ""},
		{`{{ .off | default true }}`, "false", ""},
		{`{{ index . "unset" | default "fallback" }}`, "fallback", ""},
		{`{{ .r.rc }} {{ .r.stdout }}`, "0 ok", ""},
		{`{{ .nope }}`, "", `variable "nope" is not defined`},
		{`{{ .r.nope }}`, "", `variable "r.nope" is not defined`},
		{`{{ $.missing }}`, "", `variable "missing" is not defined`},
		{`{{ if .port }}{{ .nested.x }}{{ end }}`, "", `variable "nested" is not defined`},
		{`{{ join "," .port }}`, "", `error calling join: join: want a list, got int`},
		{`{{ .pgdata }`, "", `template "{{ .pgdata }": unexpected "}" in operand`},
		{`{{ nofunc .x }}`, "", `function "nofunc" not defined`},
	}
	for _, tt := range tests {
		got, err := Render(tt.text, vars)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Render(%q) error = %v, want %s", tt.text, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
}

func TestEvalCondition(t *testing.T) {
	vars := map[string]any{
		"r":    map[string]any{"rc": 0, "changed": true, "stdout": "", "failed": false},
		"role": "primary",
		"go":   true,
	}
	tests := []struct {
		expr string
		want bool
		err  string
	}{
		{"eq .r.rc 0", true, ""},
		{"ne .r.rc 0", false, ""},
		{".r.changed", true, ""},
		{"not .r.changed", false, ""},
		{`and (eq .role "primary") .go`, true, ""},
		{`or (eq .role "standby") .r.failed`, false, ""},
		{"true", true, ""},
		{"false", false, ""},
		{".r.stdout", false, ""},
		{`{{ if eq .role "primary" }}true{{ end }}`, true, ""},
		{`{{ if eq .role "standby" }}true{{ end }}`, false, ""},
		{"  eq .r.rc 0  ", true, ""},
		{".r.rc", false, `condition ".r.rc" gave "0", not true or false`},
		{".role", false, `gave "primary", not true or false`},
		{".nope", false, `condition ".nope": variable "nope" is not defined`},
		{"eq .r.rc (", false, "unclosed left paren"},
		{"", false, "empty condition"},
	}
	for _, tt := range tests {
		got, err := EvalCondition(tt.expr, vars)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("EvalCondition(%q) error = %v, want %s", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EvalCondition(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
}
