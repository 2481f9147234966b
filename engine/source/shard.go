package source

import "sort"

// Shard splits ranges into at most jobs lists for jobs connections, each
// file's ranges kept together and in their order (a file's chunks must
// reach the sink in order, from one goroutine), balancing what the lists
// weigh: longest processing time first, each file to the lightest list
// so far. weight is what a range costs to fetch; nil means its Length.
// With one job, or no ranges, the result is the one list ranges.
func Shard(ranges []Range, jobs int, weight func(Range) int64) [][]Range {
	if jobs <= 1 || len(ranges) == 0 {
		return [][]Range{ranges}
	}
	if weight == nil {
		weight = func(r Range) int64 { return r.Length }
	}
	type file struct {
		ranges []Range
		bytes  int64
	}
	var files []*file
	byPath := make(map[string]*file)
	for _, r := range ranges {
		f := byPath[r.Path]
		if f == nil {
			f = &file{}
			byPath[r.Path] = f
			files = append(files, f)
		}
		f.ranges = append(f.ranges, r)
		f.bytes += weight(r)
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].bytes > files[j].bytes })
	n := min(jobs, len(files))
	shards := make([][]Range, n)
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
