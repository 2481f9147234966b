package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

func TestSkipCountsJSON(t *testing.T) {
	var c SkipCounts
	for _, step := range []struct {
		reason filemap.SkipReason
		n      int64
	}{
		{filemap.SkipWALBeforeRedo, 16 << 20},
		{filemap.SkipWALBeforeRedo, 16 << 20},
		{filemap.SkipUnlogged, 8192},
		{filemap.SkipTemp, 3},
		{filemap.SkipWALRecycled, 7 << 24},
		{filemap.SkipNone, 99},
	} {
		c.add(step.reason, step.n)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"wal_before_redo":33554432,"unlogged":8192,"temp":3,"wal_recycled":117440512}`; string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	// A report with nothing skipped still names every reason.
	b, _ = json.Marshal(Report{})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"bytes_skipped", "files_skipped"} {
		got, ok := m[key].(map[string]any)
		if !ok || len(got) != 4 || got["wal_before_redo"] != 0.0 || got["unlogged"] != 0.0 || got["temp"] != 0.0 ||
			got["wal_recycled"] != 0.0 {
			t.Fatalf("%s = %v", key, m[key])
		}
	}
}

func TestTrimSettings(t *testing.T) {
	cf := &pgcontrol.ControlFile{WalSegSize: 16 << 20}
	want := filemap.Trim{Redo: 0x3000028, SourceWAL: 0x9000100, WALSegSize: 16 << 20, Unlogged: true, Temp: true}
	if got := trimFor(0x3000028, 0x9000100, cf); got == nil || *got != want {
		t.Fatalf("trimFor = %+v, want %+v", got, want)
	}
	// --faithful gives the map no trimming at all, before anything of the
	// run is looked at.
	r := &run{opts: Options{Faithful: true}}
	if got := r.trim(context.Background()); got != nil {
		t.Fatalf("Faithful still trims: %+v", got)
	}
}

func TestSizeText(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"}, {10239, "10239 bytes"}, {10240, "10 kB"}, {10*1024*1024 - 1, "10239 kB"}, {10 << 20, "10 MB"}, {1 << 30, "1024 MB"},
	} {
		if got := sizeText(tt.n); got != tt.want {
			t.Errorf("sizeText(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
