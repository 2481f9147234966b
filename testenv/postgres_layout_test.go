package testenv

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSpecClusters(t *testing.T) {
	for _, c := range []struct {
		spec    Spec
		want    []string // cluster -> hosts
		wantErr string
	}{
		{Spec{Name: "x", Hosts: 2, Postgres: true}, []string{"a:pg1,pg2"}, ""},
		{Spec{Name: "x", Hosts: 4, Clusters: 2, Postgres: true}, []string{"a:pg1,pg2", "b:pg3,pg4"}, ""},
		{Spec{Name: "x", Hosts: 5, Clusters: 2, Postgres: true}, []string{"a:pg1,pg2,pg3", "b:pg4,pg5"}, ""},
		{Spec{Name: "x", Hosts: 3, Clusters: 3, Postgres: true}, []string{"a:pg1", "b:pg2", "c:pg3"}, ""},
		{Spec{Name: "x", Hosts: 2, Clusters: 3, Postgres: true}, nil, "3 clusters"},
		{Spec{Name: "x", Hosts: 4, Clusters: 2}, nil, "without Postgres"},
		{Spec{Name: "x", Hosts: 4, Clusters: -1, Postgres: true}, nil, "-1 clusters"},
		{Spec{Name: "x", Hosts: 4}, nil, ""}, // no PostgreSQL, no clusters
	} {
		spec, err := c.spec.normalize()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: %v, want error %q", c.spec, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", c.spec, err)
		}
		l := layout(spec, []int{200})
		var got []string
		for _, cl := range l.Clusters {
			got = append(got, cl.Name+":"+strings.Join(cl.Hosts(), ","))
			if cl.ArchiveDir != filepath.Join(spec.StateDir, "archive", cl.Name) {
				t.Errorf("cluster %s archive %s", cl.Name, cl.ArchiveDir)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: clusters %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestSocketDirFitsSunPath(t *testing.T) {
	for _, c := range []struct {
		stateDir string
		moved    bool
	}{
		{"/var/lib/pgrunbook/lab/demo", false},
		{"/tmp/" + strings.Repeat("d", 90), true},
	} {
		spec, err := Spec{Name: "demo", Hosts: 2, Postgres: true, StateDir: c.stateDir}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range layout(spec, []int{200}).Hosts {
			sock := h.Dirs.SocketDir + socketFileName
			if len(sock) > maxSocketPath {
				t.Errorf("%s: socket %s is %d bytes, more than sun_path holds", c.stateDir, sock, len(sock))
			}
			if moved := !strings.HasPrefix(h.Dirs.SocketDir, c.stateDir); moved != c.moved {
				t.Errorf("%s: socket dir %s moved=%v, want %v", c.stateDir, h.Dirs.SocketDir, moved, c.moved)
			}
		}
	}
}
