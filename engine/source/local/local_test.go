package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
)

type chunk struct {
	path     string
	off      int64
	data     string
	vanished bool
}

func collect(out *[]chunk) source.Sink {
	return func(path string, off int64, data []byte, vanished bool) error {
		*out = append(*out, chunk{path, off, string(data), vanished})
		return nil
	}
}

func newSource(t *testing.T) (*Source, string) {
	t.Helper()
	root := t.TempDir()
	for p, s := range map[string]string{
		"PG_VERSION":            "15\n",
		"base/5/16384":          strings.Repeat("a", 8192) + strings.Repeat("b", 8192),
		"global/pg_control":     "control",
		"tst_dir/with 'quotes'": "q",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestListAndFetchFile(t *testing.T) {
	s, _ := newSource(t)
	ctx := context.Background()
	var got []string
	if err := s.List(ctx, func(f filemap.File) error {
		got = append(got, fmt.Sprintf("%s %d %d", f.Path, f.Type, f.Size))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "PG_VERSION 1 3,base 2 0,base/5 2 0,base/5/16384 1 16384,global 2 0,global/pg_control 1 7,tst_dir 2 0,tst_dir/with 'quotes' 1 1"
	if strings.Join(got, ",") != want {
		t.Fatalf("list = %s", strings.Join(got, ","))
	}
	b, err := s.FetchFile(ctx, "global/pg_control")
	if err != nil || string(b) != "control" {
		t.Fatalf("FetchFile = %q, %v", b, err)
	}
	if _, err := s.FetchFile(ctx, "pg_wal/00000002.history"); err == nil {
		t.Fatal("missing file fetched")
	}
	if _, err := s.FetchFile(ctx, "../etc/passwd"); err == nil || !strings.Contains(err.Error(), "unsafe path") {
		t.Fatalf("unsafe path: %v", err)
	}
	if _, err := s.CurrentInsertLSN(ctx); err == nil {
		t.Fatal("insert LSN from a local source")
	}
}

func TestFetch(t *testing.T) {
	s, root := newSource(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		ranges  []source.Range
		want    []chunk
		wantErr string
	}{
		{"whole file", []source.Range{{Path: "tst_dir/with 'quotes'", Length: 1, Whole: true}},
			[]chunk{{"tst_dir/with 'quotes'", 0, "q", false}}, ""},
		{"block range", []source.Range{{Path: "base/5/16384", Offset: 8190, Length: 4}},
			[]chunk{{"base/5/16384", 8190, "aabb", false}}, ""},
		{"range past the end", []source.Range{{Path: "base/5/16384", Offset: 16380, Length: 8}}, nil,
			`unexpected EOF while reading file "` + filepath.Join(root, "base/5/16384") + `"`},
		{"whole file that grew", []source.Range{{Path: "PG_VERSION", Length: 2, Whole: true}}, nil,
			`size of source file "` + filepath.Join(root, "PG_VERSION") + `" changed concurrently: 2 bytes expected, 3 copied`},
		{"missing file", []source.Range{{Path: "base/5/99999", Length: 2, Whole: true}}, nil,
			`could not open source file "` + filepath.Join(root, "base/5/99999") + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []chunk
			err := s.Fetch(ctx, tt.ranges, collect(&got))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("chunks = %v, want %v", got, tt.want)
			}
		})
	}
	// A large whole file arrives complete, in order, in several chunks.
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*bufSize)/16+5)
	if err := os.WriteFile(filepath.Join(root, "big"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	var got []chunk
	if err := s.Fetch(ctx, []source.Range{{Path: "big", Length: int64(len(big)), Whole: true}}, collect(&got)); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, c := range got {
		if c.off != int64(len(all)) {
			t.Fatalf("chunk at %d, want %d", c.off, len(all))
		}
		all = append(all, c.data...)
	}
	if !bytes.Equal(all, big) || len(got) < 4 {
		t.Fatalf("big file: %d bytes in %d chunks", len(all), len(got))
	}
}
