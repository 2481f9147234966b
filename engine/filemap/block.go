package filemap

import "fmt"

// AddBlock records that the target's WAL modified block blkno of the given
// relation fork after the divergence. Only the main fork is tracked (the
// other forks are copied whole), so other forks are ignored. The block is
// mapped to its segment file and in-segment number, and kept only when the
// file exists on both sides and the block lies within both sizes: a block
// beyond either end is covered by COPY_TAIL, TRUNCATE, COPY or REMOVE, and a
// file on neither side was dropped on both. Both listings must be complete
// before the first call.
func (m *Map) AddBlock(rel RelFileNode, fork ForkNumber, blkno uint32) error {
	if fork != ForkMain {
		return nil
	}
	segno := blkno / m.cfg.RelSegSize
	inSeg := blkno % m.cfg.RelSegSize
	c := &m.lastBlock
	if !c.valid || c.rel != rel || c.segno != segno {
		// Consecutive block references mostly hit the same relation
		// segment: name it and look it up only when that changes.
		path := RelPath(rel, fork, segno, m.cfg.Major, m.cfg.CatVersion)
		*c = blockCache{valid: true, rel: rel, segno: segno, path: path, entry: m.entries[path]}
	}
	return m.addEntryBlock(c.entry, c.path, inSeg)
}

// blockCache remembers the segment file of the block AddBlock saw last.
type blockCache struct {
	valid bool
	rel   RelFileNode
	segno uint32
	path  string
	// entry is the map's entry for path, nil when neither listing has it.
	entry *FileEntry
}

// AddBlockPath is AddBlock for a caller that already has the segment path
// and the in-segment block number.
func (m *Map) AddBlockPath(path string, inSeg uint32) error {
	return m.addSegmentBlock(path, inSeg)
}

func (m *Map) addSegmentBlock(path string, inSeg uint32) error {
	return m.addEntryBlock(m.entries[path], path, inSeg)
}

func (m *Map) addEntryBlock(e *FileEntry, path string, inSeg uint32) error {
	if e == nil || !e.Target.Exists {
		return nil
	}
	if e.Target.Type != TypeRegular {
		return fmt.Errorf("unexpected page modification for non-regular file \"%s\"", path)
	}
	if !e.Source.Exists {
		return nil
	}
	end := (int64(inSeg) + 1) * m.cfg.BlockSize
	if end <= e.Source.Size && end <= e.Target.Size {
		e.Blocks.Add(inSeg)
		m.decided = nil
	}
	return nil
}
