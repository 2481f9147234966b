package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// File makes a path on the host a regular file, a directory, or absent, with
// the given mode and ownership.
//
//	file: {path: /var/lib/postgresql/arch, state: directory, mode: "0700", owner: postgres}
//
// There is no "touch" state: updating a timestamp on every run would report
// changed every time, and a rerun of a successful playbook must not.
type File struct {
	// Path is the file or directory on the host.
	Path string `yaml:"path"`
	// State is present (a regular file, created empty when missing; the
	// default), directory (created with its parents when missing) or absent.
	State string `yaml:"state"`
	// Mode is the wanted permission bits; unset leaves them (a new file gets
	// 0600, a new directory the umask's default).
	Mode *Mode `yaml:"mode"`
	// Owner and Group are the wanted owner and group; unset leaves them.
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
	// Recurse lets state absent remove a non-empty directory with
	// everything in it; without it such a directory is an error, so a typo
	// in a path cannot wipe a tree.
	Recurse bool `yaml:"recurse"`
}

// Validate checks the path and the state.
func (f *File) Validate() error {
	if f.Path == "" {
		return errors.New("path is required")
	}
	switch f.State {
	case "", "present", "directory", "absent":
	default:
		return fmt.Errorf("%s: state %q: want present, directory or absent", f.Path, f.State)
	}
	if f.State == "absent" && (f.Mode != nil || f.Owner != "" || f.Group != "") {
		return fmt.Errorf("%s: mode, owner and group make no sense with state absent", f.Path)
	}
	return nil
}

// Run inspects the path and brings it to the wanted state.
func (f *File) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := f.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("file: %w", err)
	}
	fi, err := statPath(ctx, t, f.Path, f.State != "absent")
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("file %s: stat: %w", f.Path, err)
	}
	var out runbook.Outcome
	switch f.State {
	case "absent":
		out, err = f.absent(ctx, t, fi)
	case "directory":
		out, err = f.present(ctx, t, fi, "directory")
	default:
		out, err = f.present(ctx, t, fi, "file")
	}
	if err != nil {
		return out, fmt.Errorf("file %s: %w", f.Path, err)
	}
	return out, nil
}

// present makes the path exist as typ ("file" or "directory") with the
// wanted attributes.
func (f *File) present(ctx context.Context, t *runbook.Target, fi fileInfo, typ string) (runbook.Outcome, error) {
	if fi.Exists && fi.Type != typ {
		return runbook.Outcome{}, fmt.Errorf("is a %s, not a %s", fi.Type, typ)
	}
	if !fi.Exists {
		after := []string{"state " + typ}
		if f.Mode != nil {
			after = append(after, "mode "+f.Mode.String())
		}
		out := f.outcome(t, []string{"state absent"}, after, "created "+typ)
		if t.Check {
			return out, nil
		}
		return out, f.create(ctx, t, typ)
	}
	chmod, chown, before, after := attrChanges(fi, f.Mode, f.Owner, f.Group)
	if len(before) == 0 {
		return runbook.Outcome{Msg: typ + " as wanted"}, nil
	}
	out := f.outcome(t, before, after, strings.Join(after, ", "))
	if t.Check {
		return out, nil
	}
	return out, setAttrs(ctx, t, f.Path, chmod, chown)
}

// create makes a missing file or directory with the wanted attributes.
func (f *File) create(ctx context.Context, t *runbook.Target, typ string) error {
	if typ == "file" {
		return writeFile(ctx, t, f.Path, nil, f.Mode, f.Owner, f.Group)
	}
	res, err := script(ctx, t, `mkdir -p -- "$1"`, f.Path)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return failure(res)
	}
	chmod, chown := "", f.Owner
	if f.Mode != nil {
		chmod = f.Mode.String()
	}
	if f.Group != "" {
		chown += ":" + f.Group
	}
	return setAttrs(ctx, t, f.Path, chmod, chown)
}

const emptyDirScript = `[ -z "$(ls -A -- "$1")" ]`

// absent removes the path, refusing a non-empty directory unless Recurse.
func (f *File) absent(ctx context.Context, t *runbook.Target, fi fileInfo) (runbook.Outcome, error) {
	if !fi.Exists {
		return runbook.Outcome{Msg: "absent"}, nil
	}
	rm := `rm -f -- "$1"`
	if fi.Type == "directory" {
		rm = `rmdir -- "$1"`
		if f.Recurse {
			rm = `rm -rf -- "$1"`
		} else {
			res, err := script(ctx, t, emptyDirScript, f.Path)
			if err != nil {
				return runbook.Outcome{}, err
			}
			if res.ExitCode != 0 {
				return runbook.Outcome{}, errors.New("directory is not empty (set recurse: true to remove it with its content)")
			}
		}
	}
	out := f.outcome(t, []string{"state " + fi.Type}, []string{"state absent"}, "removed "+fi.Type)
	if t.Check {
		return out, nil
	}
	res, err := script(ctx, t, rm, f.Path)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if res.ExitCode != 0 {
		return runbook.Outcome{}, failure(res)
	}
	return out, nil
}

// outcome is a changed outcome with a pseudo-diff of the path's state and
// attributes when t.Diff asks for one.
func (f *File) outcome(t *runbook.Target, before, after []string, msg string) runbook.Outcome {
	out := runbook.Outcome{Changed: true, Msg: msg}
	if t.Diff {
		out.Diffs = []runbook.FileDiff{{Path: f.Path, Before: strings.Join(before, "\n") + "\n", After: strings.Join(after, "\n") + "\n"}}
	}
	return out
}
