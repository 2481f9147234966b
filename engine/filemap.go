package engine

import (
	"context"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// buildFileMap lists both data directories, scans the target's WAL from
// the common checkpoint to its end for changed blocks, and decides what to
// do with every path.
func (r *run) buildFileMap(ctx context.Context) ([]*filemap.FileEntry, error) {
	m := filemap.New(filemap.Config{
		Major:      r.layout.Major,
		CatVersion: r.layout.CatalogVersion,
		BlockSize:  int64(r.tgtCF.BlockSize),
		RelSegSize: r.tgtCF.RelSegSize,
		Debugf:     r.debugf,
		Trim:       r.trim(ctx),
	})
	for _, name := range r.keepWAL {
		m.KeepWAL("pg_wal/" + name)
	}
	r.progress.phase(PhaseListing, 0)
	r.progressf("reading source file list")
	// The source listing mostly waits for the source server; the target
	// listing and WAL scan are this machine's CPU and disk: they overlap.
	// The map is not safe for concurrent use, and a changed block counts
	// only where both sides have it, so the source's files and the
	// scan's blocks are collected apart and added once both are done.
	g, gctx := errgroup.WithContext(ctx)
	var listed []filemap.File
	g.Go(func() error {
		return r.src.List(gctx, func(f filemap.File) error {
			listed = append(listed, f)
			return nil
		})
	})
	var blocks []changedBlock
	g.Go(func() error {
		r.progressf("reading target file list")
		if err := r.w.List(gctx, m.AddTarget); err != nil {
			return err
		}
		if r.record != nil {
			blocks, r.rep.Lost = r.record.Blocks, r.record.Lost
			return nil
		}
		r.progressf("reading WAL in target")
		r.progress.phase(PhaseReadingWAL, 0)
		return r.scanTargetWAL(gctx, func(b changedBlock) {
			// Records often touch the block the previous one did.
			if n := len(blocks); n == 0 || blocks[n-1] != b {
				blocks = append(blocks, b)
			}
		})
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.scanned = blocks
	for _, f := range listed {
		if err := m.AddSource(f); err != nil {
			return nil, err
		}
	}
	for _, b := range blocks {
		if err := m.AddBlock(b.rel, filemap.ForkMain, b.blk); err != nil {
			return nil, err
		}
	}
	entries, err := m.Decide()
	if err != nil {
		return nil, err
	}
	if err := r.keepConfig(ctx, entries); err != nil {
		return nil, err
	}
	if err := m.WriteDebug(&debugLines{r: r}); err != nil {
		return nil, err
	}
	sum := m.Summary()
	for a, t := range sum.Actions {
		r.rep.Actions[a.String()] = t
	}
	r.progressf("%s", sum.ProgressLine())
	r.reportSkipped(sum)
	r.progress.total = sum.FetchBytes
	return entries, nil
}

// changedBlock is a main-fork block the target's WAL changed.
type changedBlock struct {
	rel filemap.RelFileNode
	blk uint32
}

// scanTargetWAL passes every main-fork block the target changed since the
// common checkpoint to changed, and records what the target wrote after
// the divergence for the report's "lost" section.
func (r *run) scanTargetWAL(ctx context.Context, changed func(changedBlock)) error {
	rd, err := r.targetReader()
	if err != nil {
		return err
	}
	type blockKey struct {
		rel wal.RelFileNode
		blk uint32
	}
	lostBlocks := map[blockKey]bool{}
	lost := &Lost{WALBytes: int64(r.targetEnd - r.divergence), Commits: []LostCommit{}, Relations: []LostRelation{}}
	err = wal.ScanBlocks(ctx, rd, r.ckpt.LSN, r.targetEnd, wal.ScanFuncs{
		Block: func(rec *wal.Record, ref wal.BlockRef) error {
			if ref.Fork != wal.MainFork {
				return nil
			}
			if rec.LSN >= r.divergence {
				lostBlocks[blockKey{ref.Rel, ref.BlockNo}] = true
			}
			changed(changedBlock{filemap.RelFileNode{Spc: ref.Rel.Spc, DB: ref.Rel.DB, Rel: ref.Rel.Rel}, ref.BlockNo})
			return nil
		},
		Commit: func(c wal.Commit) error {
			if c.LSN >= r.divergence {
				lost.Commits = append(lost.Commits, LostCommit{XID: c.XID, Time: c.Time.UTC().Format(time.RFC3339Nano)})
			}
			return nil
		},
	})
	if err != nil {
		return r.inTargetWAL(rd, err)
	}
	perRel := map[wal.RelFileNode]int{}
	for k := range lostBlocks {
		perRel[k.rel]++
	}
	for rel, n := range perRel {
		lost.Relations = append(lost.Relations, LostRelation{SpcNode: rel.Spc, DBNode: rel.DB, RelNode: rel.Rel, Blocks: n})
	}
	sort.Slice(lost.Relations, func(i, j int) bool {
		a, b := lost.Relations[i], lost.Relations[j]
		if a.SpcNode != b.SpcNode {
			return a.SpcNode < b.SpcNode
		}
		if a.DBNode != b.DBNode {
			return a.DBNode < b.DBNode
		}
		return a.RelNode < b.RelNode
	})
	r.rep.Lost = lost
	return nil
}
