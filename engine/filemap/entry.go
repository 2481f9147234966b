package filemap

// Side is what one data directory (source or target) has at a path.
type Side struct {
	Exists     bool
	Type       FileType
	Size       int64
	LinkTarget string
}

// FileEntry is everything the rewind knows and decided about one path.
type FileEntry struct {
	// Path is relative to the data directory, with '/' separators.
	Path string
	// IsRelFile tells whether Path is a main-fork relation data file, the
	// only kind of file whose changes are tracked block by block.
	IsRelFile bool
	Source    Side
	Target    Side
	// Action is set by Decide.
	Action Action
	// TailFrom is, for ActionCopyTail, the offset from which the source's
	// bytes are copied (the target's size).
	TailFrom int64
	// TruncateTo is, for ActionTruncate, the size the target is cut to (the
	// source's size).
	TruncateTo int64
	// Blocks are the in-segment block numbers to fetch from the source
	// because the target's WAL changed them after the divergence. They are
	// fetched whatever the Action is.
	Blocks BlockSet
	// Skipped is, when the map trims (Config.Trim), the reason this
	// source file is not fetched although pg_rewind would fetch it; the
	// Action is then NONE (REMOVE for a recycled WAL segment the target
	// has too) and Blocks is empty. SkippedBytes is what
	// pg_rewind's decision would have fetched of it.
	Skipped      SkipReason
	SkippedBytes int64
	// heldBlocks keeps the changed blocks of a skipped entry, so that a
	// later Decide starts again from everything AddBlock recorded.
	heldBlocks BlockSet
}
