package steps

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// fileEdit is one planned change to a file of a data directory: the
// PostgreSQL steps plan every file first, so that Check and Diff see exactly
// what a real run would write.
type fileEdit struct {
	Path    string
	Existed bool
	Before  []byte
	After   []byte
	// Remove deletes the file instead of writing After.
	Remove bool
	// Perm is the mode of a file written anew; nil keeps an existing
	// file's mode (and gives a new one 0600).
	Perm *Mode
	// Force rewrites the file even when its text is unchanged, to fix
	// its mode.
	Force bool
}

// changed reports whether applying the edit changes the host.
func (e *fileEdit) changed() bool {
	if e.Remove {
		return e.Existed
	}
	return e.Force || !e.Existed || string(e.Before) != string(e.After)
}

// diff is the edit as the operator sees it; a removed file has an empty
// after side.
func (e *fileEdit) diff() runbook.FileDiff {
	d := runbook.FileDiff{Path: e.Path, Before: string(e.Before), After: string(e.After)}
	if e.Remove {
		d.After = ""
	}
	return d
}

const removeScript = `rm -f -- "$1"`

// apply writes or removes the file on the host, as t.Become.
func (e *fileEdit) apply(ctx context.Context, t *runbook.Target) error {
	if !e.changed() {
		return nil
	}
	if e.Remove {
		res, err := script(ctx, t, removeScript, e.Path)
		if err == nil && res.ExitCode != 0 {
			err = failure(res)
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", e.Path, err)
		}
		return nil
	}
	if err := writeFile(ctx, t, e.Path, e.After, e.Perm, "", ""); err != nil {
		return fmt.Errorf("write %s: %w", e.Path, err)
	}
	return nil
}

// planEdits returns the edits that change something and their diffs.
func planEdits(edits []*fileEdit) (changed []*fileEdit, diffs []runbook.FileDiff) {
	for _, e := range edits {
		if e.changed() {
			changed = append(changed, e)
			diffs = append(diffs, e.diff())
		}
	}
	return changed, diffs
}
