package engine

import (
	"strings"
	"testing"
)

func TestIsConfigFile(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"postgresql.conf", true},
		{"pg_hba.conf", true},
		{"pg_ident.conf", true},
		{"postgresql.auto.conf", true},
		{"server.crt", true},
		{"server.key", true},
		{"root.pem", true},
		{".crt", false},
		{"postgresql.auto.conf.tmp", false},
		{"conf.d/postgresql.conf", false},
		{"base/1/server.key", false},
		{"postmaster.opts", false},
		{"global/pg_control", false},
		{"server.crt.bak", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := IsConfigFile(tt.path); got != tt.want {
				t.Fatalf("IsConfigFile(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestKeepSet(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
		err   string
	}{
		{"relative", []string{"extra.conf", "conf.d/./x.conf"}, []string{"extra.conf", "conf.d/x.conf"}, ""},
		{"absolute inside", []string{"/data/pg/server.conf"}, []string{"server.conf"}, ""},
		{"absolute outside", []string{"/etc/postgresql.conf"}, nil, "keep file /etc/postgresql.conf: not inside the target data directory /data/pg"},
		{"leaves the directory", []string{"../x"}, nil, "not inside the target data directory"},
		{"the directory itself", []string{"/data/pg"}, nil, "not inside the target data directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{opts: Options{TargetDir: "/data/pg/", KeepFiles: tt.files}}
			got, err := r.keepSet()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("keepSet(%q) error %v, want %q", tt.files, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("keepSet(%q) = %v, want %v", tt.files, got, tt.want)
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Fatalf("keepSet(%q) = %v, lacks %s", tt.files, got, w)
				}
			}
		})
	}
}
