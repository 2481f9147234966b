package engine

import (
	"context"
	"sort"
	"time"

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
	if err := r.src.List(ctx, m.AddSource); err != nil {
		return nil, err
	}
	r.progressf("reading target file list")
	if err := r.w.List(ctx, m.AddTarget); err != nil {
		return nil, err
	}
	r.progressf("reading WAL in target")
	r.progress.phase(PhaseReadingWAL, 0)
	if err := r.scanTargetWAL(ctx, m); err != nil {
		return nil, err
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

// scanTargetWAL feeds every block the target changed since the common
// checkpoint into the file map, and records what the target wrote after
// the divergence for the report's "lost" section.
func (r *run) scanTargetWAL(ctx context.Context, m *filemap.Map) error {
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
			rel := filemap.RelFileNode{Spc: ref.Rel.Spc, DB: ref.Rel.DB, Rel: ref.Rel.Rel}
			return m.AddBlock(rel, filemap.ForkMain, ref.BlockNo)
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
