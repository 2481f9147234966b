package stream

import (
	"sort"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// shard splits the ranges into at most jobs lists with each file's ranges
// kept together and in order, balancing the bytes asked for (longest
// processing time first).
func shard(ranges []source.Range, jobs int) [][]source.Range {
	if jobs <= 1 {
		return [][]source.Range{ranges}
	}
	type file struct {
		ranges []source.Range
		bytes  int64
	}
	var files []*file
	byPath := map[string]*file{}
	for _, r := range ranges {
		f := byPath[r.Path]
		if f == nil {
			f = &file{}
			byPath[r.Path] = f
			files = append(files, f)
		}
		f.ranges = append(f.ranges, r)
		f.bytes += r.Length
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].bytes > files[j].bytes })
	n := min(jobs, len(files))
	shards := make([][]source.Range, n)
	load := make([]int64, n)
	for _, f := range files {
		least := 0
		for i := range load {
			if load[i] < load[least] {
				least = i
			}
		}
		shards[least] = append(shards[least], f.ranges...)
		load[least] += f.bytes
	}
	return shards
}
