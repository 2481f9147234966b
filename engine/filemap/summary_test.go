package filemap

import (
	"encoding/json"
	"testing"
)

func TestSummaryJSONAndProgress(t *testing.T) {
	m := newTestMap(nil)
	for _, f := range []File{*reg("pg_wal/000000010000000000000001", 16<<20), *reg("base/5/100", 10<<20), *dir("base")} {
		if err := m.AddSource(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []File{*reg("base/5/100", 7<<20), *dir("base"), *reg("old", 5)} {
		if err := m.AddTarget(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Decide(); err != nil {
		t.Fatal(err)
	}
	s := m.Summary()
	if got, want := s.ProgressLine(), "need to copy 19 MB (total source directory size is 26 MB)"; got != want {
		t.Fatalf("progress line = %q, want %q", got, want)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"total_source_bytes":27262976,"fetch_bytes":19922944,"block_bytes":0,"actions":{"COPY":{"files":1,"bytes":16777216},"COPY_TAIL":{"files":1,"bytes":3145728},"NONE":{"files":1,"bytes":0},"REMOVE":{"files":1,"bytes":0}}}`
	if string(b) != want {
		t.Fatalf("json:\n%s\nwant:\n%s", b, want)
	}
}
