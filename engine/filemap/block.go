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
	return m.addSegmentBlock(RelPath(rel, fork, segno, m.cfg.Major, m.cfg.CatVersion), inSeg)
}

// AddBlockPath is AddBlock for a caller that already has the segment path
// and the in-segment block number.
func (m *Map) AddBlockPath(path string, inSeg uint32) error {
	return m.addSegmentBlock(path, inSeg)
}

func (m *Map) addSegmentBlock(path string, inSeg uint32) error {
	e := m.entries[path]
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
