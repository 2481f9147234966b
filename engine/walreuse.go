package engine

import (
	"context"
	"path"

	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// How the rewind treats the target's WAL segment files.
//
// A rewind replaces most of the target's pg_wal: it copies the source's
// segments and removes the target's own past the divergence. Freeing a
// 16 MB file that is on disk is not cheap (tens of milliseconds on ext4
// with online discard), and pg_rewind frees one for every segment it
// truncates or removes. The engine frees as few as it can, as the server
// itself does when it recycles WAL:
//
//   - a segment both sides have is overwritten in place, not truncated
//     first: the source's copy is as long as the target's, and the copy
//     writes every byte of it;
//   - a segment only the target has, which the rewind would remove, is
//     renamed to a segment only the source has and then overwritten;
//   - the segments still to remove go while the fetch runs, not after it.
//
// None of this needs the target's old WAL afterwards: what the rewind read
// there is in its scan record (scanrecord.go).

// walRemoveWorkers is how many removals of WAL segments run at once: the
// file system frees blocks of different files side by side.
const walRemoveWorkers = 2

// walPlan is what perform does differently for WAL segment files.
type walPlan struct {
	// renames turn target segments the rewind removes into the files of
	// copied segments the target lacks.
	renames []walRename
	// inPlace are the copies written over an existing file in place:
	// every copy of a segment the target has, and the renamed ones.
	inPlace map[*filemap.FileEntry]bool
	// handled are the removals done by a rename or during the fetch.
	handled map[*filemap.FileEntry]bool
	// early are the removals of segments that run during the fetch.
	early []*filemap.FileEntry
}

// walRename is one recycled segment file.
type walRename struct{ from, to string }

// planWAL works out the WAL segment files to overwrite in place, recycle
// and remove early. A file qualifies only if it is a regular file
// directly in the WAL directory, named as a segment, and exactly one
// segment long on each side that has it.
func (r *run) planWAL(entries []*filemap.FileEntry) walPlan {
	p := walPlan{inPlace: map[*filemap.FileEntry]bool{}, handled: map[*filemap.FileEntry]bool{}}
	if r.opts.DryRun {
		return p
	}
	segSize := int64(r.tgtCF.WalSegSize)
	isSegment := func(e *filemap.FileEntry, side filemap.Side) bool {
		if path.Dir(e.Path) != r.walDirName() || !side.Exists || side.Type != filemap.TypeRegular || side.Size != segSize {
			return false
		}
		_, _, err := lsn.ParseSegmentName(path.Base(e.Path), r.tgtCF.WalSegSize)
		return err == nil
	}
	var spare []*filemap.FileEntry
	for _, e := range entries {
		if e.Action == filemap.ActionRemove && isSegment(e, e.Target) {
			spare = append(spare, e)
		}
	}
	for _, e := range entries {
		if e.Action != filemap.ActionCopy || !isSegment(e, e.Source) {
			continue
		}
		switch {
		case e.Target.Exists && isSegment(e, e.Target):
			p.inPlace[e] = true
		case !e.Target.Exists && len(spare) > 0:
			old := spare[len(spare)-1]
			spare = spare[:len(spare)-1]
			p.renames = append(p.renames, walRename{from: old.Path, to: e.Path})
			p.inPlace[e] = true
			p.handled[old] = true
		}
	}
	for _, e := range spare {
		p.early = append(p.early, e)
		p.handled[e] = true
	}
	return p
}

// walDirName is the target's WAL directory, relative to the data directory.
func (r *run) walDirName() string {
	if r.layout != nil && r.layout.Major < 10 {
		return "pg_xlog"
	}
	return "pg_wal"
}

// recycleWAL renames the recycled segment files before any copy begins.
func (r *run) recycleWAL(p walPlan) error {
	for _, rn := range p.renames {
		if err := r.w.Rename(rn.from, rn.to); err != nil {
			return err
		}
	}
	if len(p.renames) > 0 {
		r.debugf("recycled %d target WAL segment files for the source's", len(p.renames))
	}
	return nil
}

// removeWALEarly removes the plan's remaining segments on a few workers
// while the fetch runs; the caller waits on the group.
func (r *run) removeWALEarly(ctx context.Context, p walPlan) *errgroup.Group {
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan *filemap.FileEntry)
	g.Go(func() error {
		defer close(next)
		for _, e := range p.early {
			select {
			case next <- e:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range walRemoveWorkers {
		g.Go(func() error {
			for e := range next {
				if err := r.w.Apply(e); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g
}
