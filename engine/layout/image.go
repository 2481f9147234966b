package layout

// ImageBits are the bimg_info flag bits of a full-page image header. Release
// 15 renumbered them when it added LZ4 and zstd compression; a reader with
// the wrong table mistakes the "apply" bit for compression and misreads
// every image that has a hole.
type ImageBits struct {
	// HasHole says the image omits the free space between pd_lower and
	// pd_upper.
	HasHole uint8
	// Apply says redo restores the image (as opposed to an image kept
	// only for wal_consistency_checking).
	Apply uint8
	// Compressed is the union of all compression method bits.
	Compressed uint8
	// PGLZ, LZ4 and ZSTD are the individual compression bits; zero when
	// the version does not have the method.
	PGLZ, LZ4, ZSTD uint8
}

// Known returns the union of all bits that are defined for this version.
func (b ImageBits) Known() uint8 {
	return b.HasHole | b.Apply | b.Compressed
}
