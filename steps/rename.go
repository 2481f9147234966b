package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// Rename moves src to dest on the host, once: when src is gone and dest
// exists the work is already done. The PostgreSQL 9.5 rejoin renames
// recovery.done back to recovery.conf this way.
//
//	rename: {src: "{{ .pgdata }}/recovery.done", dest: "{{ .pgdata }}/recovery.conf"}
type Rename struct {
	// Src is the path to move.
	Src string `yaml:"src"`
	// Dest is its new path; an existing directory is not moved into but
	// replaced (like `mv -T`), which fails unless it is empty.
	Dest string `yaml:"dest"`
	// Force replaces dest when both exist; without it that is an error,
	// since it usually means something else wrote dest.
	Force bool `yaml:"force"`
}

// Validate checks that src and dest are given and differ.
func (r *Rename) Validate() error {
	switch {
	case r.Src == "" || r.Dest == "":
		return errors.New("src and dest are required")
	case r.Src == r.Dest:
		return fmt.Errorf("%s: src and dest are the same", r.Src)
	}
	return nil
}

// Run inspects both paths and renames when src exists.
func (r *Rename) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := r.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("rename: %w", err)
	}
	src, err := statPath(ctx, t, r.Src, false)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rename %s: stat: %w", r.Src, err)
	}
	dest, err := statPath(ctx, t, r.Dest, false)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rename %s: stat %s: %w", r.Src, r.Dest, err)
	}
	switch {
	case !src.Exists && dest.Exists:
		return runbook.Outcome{Msg: r.Dest + " exists and " + r.Src + " does not: already renamed"}, nil
	case !src.Exists && t.Check:
		// Under --check an earlier step that would create src has not
		// run, so a missing src is a plan, not yet an error.
		return runbook.Outcome{Changed: true, Msg: "would rename " + r.Src + " to " + r.Dest + " (" + r.Src + " does not exist yet: an earlier step must create it)"}, nil
	case !src.Exists:
		return runbook.Outcome{}, fmt.Errorf("rename %s: neither %s nor %s exists", r.Src, r.Src, r.Dest)
	case dest.Exists && !r.Force:
		return runbook.Outcome{}, fmt.Errorf("rename %s: both %s and %s exist (set force: true to replace %s)", r.Src, r.Src, r.Dest, r.Dest)
	}
	out := runbook.Outcome{Changed: true, Msg: "renamed " + r.Src + " to " + r.Dest}
	if t.Diff {
		out.Diffs = []runbook.FileDiff{{Path: r.Src, Before: "path " + r.Src + "\n", After: "path " + r.Dest + "\n"}}
	}
	if t.Check {
		out.Msg = "would rename " + r.Src + " to " + r.Dest
		return out, nil
	}
	res, err := script(ctx, t, `exec mv -f -T -- "$1" "$2"`, r.Src, r.Dest)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rename %s: %w", r.Src, err)
	}
	if res.ExitCode != 0 {
		return runbook.Outcome{}, fmt.Errorf("rename %s: %w", r.Src, failure(res))
	}
	return out, nil
}
