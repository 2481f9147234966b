package filemap

import "math/bits"

// BlockSet is a sorted set of block numbers kept as a bitmap. Blocks within
// one relation segment are dense and bounded (131072 per 1 GiB segment), so
// a bitmap costs at most 16 KiB per file and iterates in ascending order for
// free, which is the order the fetch wants.
type BlockSet struct {
	words []uint64
	n     int
}

// Add inserts blk into the set.
func (s *BlockSet) Add(blk uint32) {
	w := int(blk / 64)
	if w >= len(s.words) {
		grown := make([]uint64, w+1)
		copy(grown, s.words)
		s.words = grown
	}
	mask := uint64(1) << (blk % 64)
	if s.words[w]&mask == 0 {
		s.words[w] |= mask
		s.n++
	}
}

// Contains reports whether blk is in the set.
func (s *BlockSet) Contains(blk uint32) bool {
	w := int(blk / 64)
	return w < len(s.words) && s.words[w]&(uint64(1)<<(blk%64)) != 0
}

// Len is the number of blocks in the set.
func (s *BlockSet) Len() int { return s.n }

// Blocks returns the members in ascending order.
func (s *BlockSet) Blocks() []uint32 {
	out := make([]uint32, 0, s.n)
	for i, w := range s.words {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, uint32(i*64+b))
			w &= w - 1
		}
	}
	return out
}
