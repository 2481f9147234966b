package engine

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
)

// perform carries out the decided actions in pg_rewind's order: creations,
// copies (their target files truncated at once), tails and truncations
// first, then the fetch of every changed block and copied range, then the
// removals, children before parents, so that a failure part way leaves
// as much of the target in place as possible.
func (r *run) perform(ctx context.Context, entries []*filemap.FileEntry) error {
	var removals []*filemap.FileEntry
	for _, e := range entries {
		if e.Action == filemap.ActionRemove {
			removals = append(removals, e)
			continue
		}
		if err := r.w.Apply(e); err != nil {
			return err
		}
	}
	r.progress.phase(PhaseCopying, r.progress.total)
	if err := r.src.Fetch(ctx, source.Plan(entries, int64(r.tgtCF.BlockSize)), r.sink); err != nil {
		return err
	}
	r.progress.phase(PhaseCopied, r.progress.total)
	for _, e := range removals {
		if err := r.w.Apply(e); err != nil {
			return err
		}
	}
	return nil
}

// sink writes one fetched chunk into the target and counts it.
func (r *run) sink(path string, offset int64, data []byte, vanished bool) error {
	if err := r.w.Write(path, offset, data, vanished); err != nil {
		return err
	}
	n := int64(len(data))
	r.fetched.Add(n)
	r.progress.add(n)
	return nil
}
