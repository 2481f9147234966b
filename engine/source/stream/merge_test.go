package stream

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

func TestMerge(t *testing.T) {
	blk := func(path string, n int64) source.Range {
		return source.Range{Path: path, Offset: n * 8192, Length: 8192}
	}
	cases := []struct {
		name string
		in   []source.Range
		want []source.Range
	}{
		{"empty", nil, []source.Range{}},
		{"adjacent blocks of one file", []source.Range{blk("a", 1), blk("a", 2), blk("a", 3)},
			[]source.Range{{Path: "a", Offset: 8192, Length: 3 * 8192}}},
		{"a gap splits", []source.Range{blk("a", 1), blk("a", 3)}, []source.Range{blk("a", 1), blk("a", 3)}},
		{"another file splits", []source.Range{blk("a", 1), blk("b", 2), blk("a", 2)},
			[]source.Range{blk("a", 1), blk("b", 2), blk("a", 2)}},
		{"whole files are kept", []source.Range{{Path: "a", Length: 100, Whole: true}, {Path: "a", Offset: 100, Length: 10}},
			[]source.Range{{Path: "a", Length: 100, Whole: true}, {Path: "a", Offset: 100, Length: 10}}},
		{"a tail after blocks", []source.Range{blk("a", 0), {Path: "a", Offset: 8192, Length: 5 << 20}},
			[]source.Range{{Path: "a", Length: 8192 + 5<<20}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Merge(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Merge = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRangesRoundTrip(t *testing.T) {
	in := []source.Range{{Path: "base/5/16384", Offset: 8192, Length: 3 * 8192},
		{Path: "pg_tblspc/16400/PG_15_202209061/5/16401", Length: 77, Whole: true}, {Path: "x", Offset: 1 << 40, Length: 0}}
	got, err := decodeRanges(encodeRanges(in))
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("decodeRanges = %+v, %v; want %+v", got, err, in)
	}
	bad := []struct {
		name string
		p    []byte
	}{
		{"truncated", encodeRanges(in)[:20]},
		{"trailing bytes", append(encodeRanges(in), 0)},
		{"negative offset", encodeRanges([]source.Range{{Path: "a", Offset: -1, Length: 1}})},
		{"whole not at 0", encodeRanges([]source.Range{{Path: "a", Offset: 1, Length: 1, Whole: true}})},
		{"too many", []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range bad {
		if _, err := decodeRanges(tc.p); err == nil {
			t.Errorf("%s: decodeRanges accepted it", tc.name)
		}
	}
}

func TestParseToken(t *testing.T) {
	_, text, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"as printed", text, true},
		{"with a trailing newline", text + "\n", true},
		{"upper case", "AB" + text[2:], true},
		{"short", text[:63], false},
		{"not hex", "zz" + text[2:], false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseToken(tc.in)
			if (err == nil) != tc.ok || tc.ok && len(b) != TokenSize {
				t.Fatalf("ParseToken = %x, %v; want ok %v", b, err, tc.ok)
			}
			if err != nil && len(tc.in) > 4 && strings.Contains(err.Error(), tc.in[4:20]) {
				t.Fatalf("the error repeats the token: %v", err)
			}
		})
	}
}

func TestShard(t *testing.T) {
	rs := []source.Range{{Path: "a", Length: 100}, {Path: "b", Length: 10 << 20, Whole: true},
		{Path: "a", Offset: 200, Length: 100}, {Path: "c", Length: 300}, {Path: "d", Length: 5}}
	cases := []struct {
		jobs int
		want [][]string
	}{
		{1, [][]string{{"a", "b", "a", "c", "d"}}},
		{2, [][]string{{"b"}, {"c", "a", "a", "d"}}},
		{9, [][]string{{"b"}, {"c"}, {"a", "a"}, {"d"}}},
	}
	for _, tc := range cases {
		var got [][]string
		for _, sh := range shard(rs, tc.jobs) {
			var paths []string
			for _, r := range sh {
				paths = append(paths, r.Path)
			}
			got = append(got, paths)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shard(jobs %d) = %v, want %v", tc.jobs, got, tc.want)
		}
	}
	// A file's ranges keep their order.
	if sh := shard(rs, 2)[1]; sh[1].Offset != 0 || sh[2].Offset != 200 {
		t.Errorf("the ranges of a lost their order: %+v", sh)
	}
}
