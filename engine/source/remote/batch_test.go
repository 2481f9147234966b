package remote

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

func TestBatcher(t *testing.T) {
	const mib = MaxChunkSize
	tests := []struct {
		name string
		adds []request
		want [][]request
	}{
		{"adjacent blocks merge", []request{{"a", 0, 8192}, {"a", 8192, 8192}, {"a", 32768, 8192}},
			[][]request{{{"a", 0, 16384}, {"a", 32768, 8192}}}},
		{"other file does not merge", []request{{"a", 0, 8192}, {"b", 8192, 8192}},
			[][]request{{{"a", 0, 8192}, {"b", 8192, 8192}}}},
		{"large range split at 1 MiB", []request{{"a", 0, 2*mib + 5}},
			[][]request{{{"a", 0, mib}, {"a", mib, mib}, {"a", 2 * mib, 5}}}},
		{"merge fills the previous chunk first", []request{{"a", 0, mib - 100}, {"a", mib - 100, 300}},
			[][]request{{{"a", 0, mib}, {"a", mib, 200}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]request
			b := batcher{flush: func(q []request) error { got = append(got, q); return nil }}
			for _, r := range tt.adds {
				if err := b.add(r.path, r.offset, r.length); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.finish(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("batches = %v, want %v", got, tt.want)
			}
		})
	}
	// At most MaxChunksPerQuery chunks per query.
	var sizes []int
	b := batcher{flush: func(q []request) error { sizes = append(sizes, len(q)); return nil }}
	for i := 0; i < 2500; i++ {
		if err := b.add(fmt.Sprintf("f%d", i), 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.finish(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 500}) {
		t.Fatalf("query sizes = %v", sizes)
	}
}

func TestShard(t *testing.T) {
	ranges := []source.Range{
		{Path: "small", Length: 10, Whole: true}, // counts as 1 MiB
		{Path: "big", Offset: 0, Length: 8 << 20},
		{Path: "rel", Offset: 0, Length: 8192},
		{Path: "big", Offset: 8 << 20, Length: 8 << 20},
		{Path: "rel", Offset: 81920, Length: 8192},
		{Path: "wal", Length: 16 << 20, Whole: true},
	}
	if got := shard(ranges, 1); !reflect.DeepEqual(got, [][]source.Range{ranges}) {
		t.Fatalf("one job reorders: %v", got)
	}
	got := shard(ranges, 3)
	if len(got) != 3 {
		t.Fatalf("%d shards", len(got))
	}
	owner := map[string]int{}
	total := 0
	for i, sh := range got {
		for _, r := range sh {
			if o, ok := owner[r.Path]; ok && o != i {
				t.Fatalf("file %s split across shards", r.Path)
			}
			owner[r.Path] = i
			total++
		}
	}
	if total != len(ranges) {
		t.Fatalf("%d ranges after sharding, want %d", total, len(ranges))
	}
	// big (16 MiB) and wal (16 MiB) go to different connections first.
	if owner["big"] == owner["wal"] {
		t.Fatal("the two largest files share a connection")
	}
	// Within a file, the order is kept.
	for _, sh := range got {
		var last int64 = -1
		for _, r := range sh {
			if r.Path == "big" {
				if r.Offset <= last {
					t.Fatal("ranges of one file reordered")
				}
				last = r.Offset
			}
		}
	}
	if got := shard(ranges[:1], 4); len(got) != 1 {
		t.Fatalf("one file made %d shards", len(got))
	}
}

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0/3002EB0", 0x3002EB0, true},
		{"1/00000060", 0x100000060, true},
		{"FFFFFFFF/FFFFFFFF", 0xFFFFFFFFFFFFFFFF, true},
		{"3002EB0", 0, false},
		{"0/x", 0, false},
	}
	for _, tt := range tests {
		got, err := parseLSN(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseLSN(%q) = %X, %v", tt.in, got, err)
		}
	}
}
