package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareStateDir(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // name -> content
		wantErr string
	}{
		{"missing", nil, ""},
		{"empty", map[string]string{}, ""},
		{"earlier run of this lab", map[string]string{"lab.json": `{"name":"lab"}`, "inventory.yml": "x", "known_hosts": "x"}, ""},
		{"crash before lab.json", map[string]string{"id_ed25519": "x", "lab.json.tmp": "{"}, ""},
		{"someone else's files", map[string]string{"notes.txt": "mine"}, "not a lab's"},
		{"another lab", map[string]string{"lab.json": `{"name":"other"}`}, `records lab "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if tt.files != nil {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := prepareStateDir(dir, "lab")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if _, err := os.Stat(filepath.Join(dir, firstKey(tt.files))); err != nil {
					t.Errorf("a refused state dir lost a file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 0 {
				t.Errorf("state dir after prepare: %v, %v", entries, err)
			}
			fi, err := os.Stat(dir)
			if err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("state dir mode: %v, %v", fi.Mode(), err)
			}
			for d := filepath.Dir(dir); strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
				if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
					t.Errorf("ancestor %s not searchable: %v", d, fi.Mode())
				}
			}
		})
	}
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}
