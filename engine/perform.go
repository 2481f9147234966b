package engine

import (
	"context"
	"errors"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
)

// perform carries out the decided actions in pg_rewind's order: creations,
// copies (their target files truncated at once), tails and truncations
// first, then the fetch of every changed block and copied range, then the
// removals, children before parents, so that a failure part way leaves
// as much of the target in place as possible. WAL segment files are the
// exception (walreuse.go): they are recycled and overwritten in place,
// and the ones left to remove go during the fetch.
func (r *run) perform(ctx context.Context, entries []*filemap.FileEntry) error {
	wp := r.planWAL(entries)
	if err := r.recycleWAL(wp); err != nil {
		return err
	}
	var removals []*filemap.FileEntry
	for _, e := range entries {
		var err error
		switch {
		case e.Action == filemap.ActionRemove:
			if !wp.handled[e] {
				removals = append(removals, e)
			}
		case wp.inPlace[e]:
			err = r.w.BeginOverwrite(e.Path)
		default:
			err = r.w.Apply(e)
		}
		if err != nil {
			return err
		}
	}
	r.progress.phase(PhaseCopying, r.progress.total)
	early := r.removeWALEarly(ctx, wp)
	ferr := r.src.Fetch(ctx, source.Plan(entries, int64(r.tgtCF.BlockSize)), r.sink)
	if err := errors.Join(ferr, early.Wait()); err != nil {
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
