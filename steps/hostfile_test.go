package steps

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

func TestParseReadFiles(t *testing.T) {
	paths := []string{"/a", "/b", "/c"}
	tests := []struct {
		name    string
		out     string
		want    map[string]hostFile
		wantErr bool
	}{
		{
			name: "present, absent, empty",
			out:  "+600 aGkKAHg=\n-\n+644 \n",
			want: map[string]hostFile{
				"/a": {Exists: true, Content: []byte("hi\n\x00x"), Perm: 0o600},
				"/b": {},
				"/c": {Exists: true, Content: []byte{}, Perm: 0o644},
			},
		},
		{name: "an answer missing", out: "-\n-\n", wantErr: true},
		{name: "not base64", out: "-\n-\n+600 ***\n", wantErr: true},
		{name: "no mode", out: "-\n-\n+aGk=\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReadFiles(tt.out, paths)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadFilesLocal reads real files, a symbolic link and a missing path
// through the local transport in one command.
func TestReadFilesLocal(t *testing.T) {
	dir := t.TempDir()
	a, link, gone := filepath.Join(dir, "a"), filepath.Join(dir, "link"), filepath.Join(dir, "gone")
	if err := os.WriteFile(a, []byte("x = 1\n\x00"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	got, err := readFiles(context.Background(), &runbook.Target{Conn: transport.NewLocal()}, a, gone, link)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hostFile{
		a:    {Exists: true, Content: []byte("x = 1\n\x00"), Perm: 0o640},
		gone: {},
		link: {Exists: true, Content: []byte("x = 1\n\x00"), Perm: fs.FileMode(0o777)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
