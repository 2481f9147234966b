package steps

import (
	"slices"
	"strings"
	"testing"
)

func TestShownContent(t *testing.T) {
	tests := []struct {
		name, file, content string
		exists              bool
		want                string
	}{
		{"absent", "pg_hba.conf", "", false, ""},
		{"text", "pg_hba.conf", "local all all peer\n", true, "local all all peer\n"},
		{"key by name", "server.key", "abc", true, "(private key, 3 bytes, sha256 ba7816bf"},
		{"key in a pem", "bundle.pem", "-----BEGIN PRIVATE KEY-----\nxyz\n", true, "(private key, 32 bytes, sha256 "},
		{"binary certificate", "der.crt", "\x30\x82\x00\xff", true, "(binary file, 4 bytes, sha256 "},
		{"NUL in text", "x.pem", "a\x00b", true, "(binary file, 3 bytes, sha256 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shownContent(tt.file, []byte(tt.content), tt.exists)
			if !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
				t.Fatalf("shownContent(%q) = %q, want it to start with %q", tt.file, got, tt.want)
			}
			if strings.HasPrefix(tt.want, "(private key") && strings.Contains(got, "xyz") {
				t.Fatalf("shownContent shows the key: %q", got)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	files := []configFile{
		{Path: "pg_hba.conf", OnNode: true, OnSource: true, Node: []byte("node\n"), Source: []byte("primary\n")},
		{Path: "pg_ident.conf", OnNode: true, OnSource: true, Node: []byte("same\n"), Source: []byte("same\n")},
		{Path: "new.key", OnSource: true, Source: []byte("k")},
		{Path: "old.crt", OnNode: true, Node: []byte("cert\n")},
	}
	off := false
	tests := []struct {
		name      string
		keep      *bool
		wantMsg   string
		wantDiffs []string
	}{
		{"kept by default", nil, "keeps the node's pg_hba.conf (differs), pg_ident.conf, new.key (differs), old.crt (differs)", nil},
		{"replaced", &off, "would replace the node's pg_hba.conf, new.key, old.crt with the new primary's",
			[]string{"/d/pg_hba.conf", "/d/new.key", "/d/old.crt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Rewind{PGData: "/d", KeepConfig: tt.keep}
			msg, diffs, facts := s.configCheck(files)
			if msg != tt.wantMsg {
				t.Errorf("msg %q, want %q", msg, tt.wantMsg)
			}
			var paths []string
			for _, d := range diffs {
				paths = append(paths, d.Path)
			}
			if !slices.Equal(paths, tt.wantDiffs) {
				t.Errorf("diffs %v, want %v", paths, tt.wantDiffs)
			}
			if len(facts) != len(files) {
				t.Errorf("facts %v, want one per file", facts)
			}
		})
	}
	s := &Rewind{PGData: "/d", KeepConfig: &off}
	_, diffs, _ := s.configCheck(files)
	if d := diffs[0]; d.Before != "node\n" || d.After != "primary\n" {
		t.Errorf("pg_hba.conf diff %+v: before the node's, after the new primary's", d)
	}
	if d := diffs[2]; d.Before != "cert\n" || d.After != "" {
		t.Errorf("a node-only file would be removed: %+v", d)
	}
	if msg, diffs, _ := s.configCheck(files[1:2]); msg != "" || diffs != nil {
		t.Errorf("nothing differs: %q %v", msg, diffs)
	}
}

func TestKeptSummary(t *testing.T) {
	tests := []struct {
		name string
		rep  map[string]any
		want string
	}{
		{"none", map[string]any{}, ""},
		{"empty", map[string]any{"kept_config": []any{}}, ""},
		{"some", map[string]any{"kept_config": []any{
			map[string]any{"path": "pg_hba.conf", "differs": true},
			map[string]any{"path": "pg_ident.conf", "differs": false},
		}}, "kept the node's pg_hba.conf (differs), pg_ident.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keptSummary(tt.rep); got != tt.want {
				t.Fatalf("keptSummary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRewindArgsKeepConfig(t *testing.T) {
	off := false
	if args := (&Rewind{PGData: "/d"}).rewindArgs(); !slices.Contains(args, "--keep-config") {
		t.Errorf("default rewind args %v lack --keep-config", args)
	}
	if args := (&Rewind{PGData: "/d", KeepConfig: &off}).rewindArgs(); slices.Contains(args, "--keep-config") {
		t.Errorf("keep_config false still passes --keep-config: %v", args)
	}
	if args := (&Rewind{PGData: "/d"}).pgRewindArgs(); slices.Contains(args, "--keep-config") {
		t.Errorf("the host's pg_rewind has no --keep-config: %v", args)
	}
}
