package stream

import "github.com/pgrunbook/pgrunbook/engine/source"

// shard deals the ranges to the stream's connections by their length:
// the server reads exactly what a range asks.
func shard(ranges []source.Range, jobs int) [][]source.Range {
	return source.Shard(ranges, jobs, nil)
}
