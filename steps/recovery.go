package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps/pgconf"
)

var _ runbook.Validator = (*Recovery)(nil)

// Recovery configures a data directory to start as a streaming standby,
// the way its PostgreSQL version expects (read from PG_VERSION).
//
//	recovery:
//	  pgdata: /var/lib/postgresql/15/main
//	  primary_conninfo: "host=10.77.0.12 port=5432 user=replicator"
//	  restore_command: "cp /var/lib/postgresql/arch/%f %p"
//
// From 12 on: an empty standby.signal (mode 0600), and the settings in
// postgresql.auto.conf with exactly one active line per key. That file is
// read last, so its values win over postgresql.conf, which the step leaves
// alone. A recovery.signal is removed: with both files the server is a
// standby anyway, but after a promotion a leftover recovery.signal would
// send the next start into targeted recovery. A recovery.conf is removed
// too, because a 12+ server refuses to start while it exists.
//
// Before 12 (9.5 to 11): the settings live in recovery.conf. When it is
// missing and recovery.done exists (left by the promotion of the node the
// data directory was copied from, as in the seed procedure), recovery.done
// is renamed to recovery.conf and edited; otherwise recovery.conf is written
// anew. standby_mode = on is always set.
//
// recovery_target_timeline defaults to latest, so the standby follows the
// new primary's timeline switch. Keys not given are not touched. Passwords
// in primary_conninfo never appear in messages, and diffs show them as
// password=********.
type Recovery struct {
	// PGData is the data directory.
	PGData string `yaml:"pgdata"`
	// PrimaryConninfo is how the standby reaches the new primary.
	PrimaryConninfo string `yaml:"primary_conninfo"`
	// RestoreCommand fetches archived WAL, e.g. "cp /arch/%f %p".
	RestoreCommand string `yaml:"restore_command"`
	// PrimarySlotName is the replication slot on the primary to stream
	// from.
	PrimarySlotName string `yaml:"primary_slot_name"`
	// RecoveryTargetTimeline is the timeline to follow (default latest).
	RecoveryTargetTimeline string `yaml:"recovery_target_timeline"`
}

// Validate checks pgdata and that the standby has a source of WAL.
func (s *Recovery) Validate() error {
	if s.PGData == "" {
		return errors.New("pgdata is required")
	}
	if s.PrimaryConninfo == "" && s.RestoreCommand == "" {
		return fmt.Errorf("%s: give primary_conninfo, restore_command or both: a standby needs a source of WAL", s.PGData)
	}
	return nil
}

// setting is one key the step writes.
type setting struct{ key, value string }

// settings are the keys to write, in a fixed order so new lines are
// appended in the same order on every node.
func (s *Recovery) settings(major int) []setting {
	var out []setting
	if major < 12 {
		out = append(out, setting{"standby_mode", "on"})
	}
	for _, st := range []setting{
		{"primary_conninfo", s.PrimaryConninfo},
		{"restore_command", s.RestoreCommand},
		{"primary_slot_name", s.PrimarySlotName},
		{"recovery_target_timeline", s.RecoveryTargetTimeline},
	} {
		if st.key == "recovery_target_timeline" && st.value == "" {
			st.value = "latest"
		}
		if st.value != "" {
			out = append(out, st)
		}
	}
	return out
}

// Run plans every file of the recovery configuration and writes those that
// differ.
func (s *Recovery) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("recovery: %w", err)
	}
	d, err := pgVersion(ctx, t, s.PGData, "")
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("recovery: %w", err)
	}
	var edits []*fileEdit
	var msgs []string
	if d.Major >= 12 {
		edits, msgs, err = s.plan12(ctx, t, d)
	} else {
		edits, msgs, err = s.planPre12(ctx, t, d)
	}
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("recovery %s: %w", s.PGData, err)
	}
	changed, diffs := planEdits(edits)
	if len(changed) == 0 {
		return runbook.Outcome{Msg: "standby configuration as wanted (PostgreSQL " + d.Version + ")"}, nil
	}
	out := runbook.Outcome{Changed: true, Msg: strings.Join(msgs, "; ")}
	if t.Diff {
		out.Diffs = maskDiffs(diffs, passwords(s.PrimaryConninfo))
	}
	if t.Check {
		return out, nil
	}
	// Files are written before any is removed, so that an interrupted
	// run never leaves a data directory with neither recovery.done nor
	// recovery.conf.
	for _, pass := range []bool{false, true} {
		for _, e := range changed {
			if e.Remove != pass {
				continue
			}
			if err := e.apply(ctx, t); err != nil {
				return runbook.Outcome{}, fmt.Errorf("recovery %s: %w", s.PGData, err)
			}
		}
	}
	return out, nil
}

// plan12 plans standby.signal, postgresql.auto.conf and the removal of
// recovery.signal and recovery.conf.
func (s *Recovery) plan12(ctx context.Context, t *runbook.Target, d *dataDir) ([]*fileEdit, []string, error) {
	var msgs []string
	// One command reads the four files and the signal file's mode.
	names := []string{"postgresql.auto.conf", "standby.signal", "recovery.signal", "recovery.conf"}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = d.file(n)
	}
	files, err := readFiles(ctx, t, paths...)
	if err != nil {
		return nil, nil, err
	}
	edit := func(p string) *fileEdit {
		f := files[p]
		return &fileEdit{Path: p, Existed: f.Exists, Before: f.Content, After: f.Content}
	}
	auto := edit(paths[0])
	keys, err := applySettings(auto, s.settings(d.Major))
	if err != nil {
		return nil, nil, err
	}
	if len(keys) > 0 {
		msgs = append(msgs, "set "+strings.Join(keys, ", ")+" in postgresql.auto.conf")
	}
	signal := edit(paths[1])
	signal.After = nil
	mode := Mode(0o600)
	signal.Perm = &mode
	switch perm := files[paths[1]].Perm; {
	case !signal.Existed:
		msgs = append(msgs, "created standby.signal")
	case len(signal.Before) > 0 || perm != 0o600:
		msgs = append(msgs, fmt.Sprintf("made standby.signal an empty file of mode 0600 (was %d bytes, mode %s)", len(signal.Before), Mode(perm)))
		signal.Force = true
	}
	edits := []*fileEdit{auto, signal}
	for i, name := range names[2:] {
		e := edit(paths[2+i])
		if e.Existed {
			e.Remove = true
			msgs = append(msgs, "removed "+name)
			edits = append(edits, e)
		}
	}
	return edits, msgs, nil
}

// planPre12 plans recovery.conf, from recovery.done when that is all there
// is.
func (s *Recovery) planPre12(ctx context.Context, t *runbook.Target, d *dataDir) ([]*fileEdit, []string, error) {
	conf, err := s.readEdit(ctx, t, d.file("recovery.conf"))
	if err != nil {
		return nil, nil, err
	}
	var msgs []string
	edits := []*fileEdit{conf}
	if !conf.Existed {
		done, err := s.readEdit(ctx, t, d.file("recovery.done"))
		if err != nil {
			return nil, nil, err
		}
		if done.Existed {
			// The rename keeps recovery.done's mode and comments; the
			// file is written and then the old name removed.
			conf.After = done.Before
			fi, err := statPath(ctx, t, done.Path, false)
			if err != nil {
				return nil, nil, fmt.Errorf("stat %s: %w", done.Path, err)
			}
			m := Mode(fi.Perm)
			conf.Perm = &m
			done.Remove = true
			edits = append(edits, done)
			msgs = append(msgs, "renamed recovery.done to recovery.conf")
		} else {
			msgs = append(msgs, "created recovery.conf")
		}
	}
	keys, err := applySettings(conf, s.settings(d.Major))
	if err != nil {
		return nil, nil, err
	}
	if len(keys) > 0 {
		msgs = append(msgs, "set "+strings.Join(keys, ", ")+" in recovery.conf")
	}
	return edits, msgs, nil
}

// readEdit reads a file into an edit that, as planned so far, changes
// nothing.
func (s *Recovery) readEdit(ctx context.Context, t *runbook.Target, p string) (*fileEdit, error) {
	b, ok, err := readFile(ctx, t, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path.Base(p), err)
	}
	return &fileEdit{Path: p, Existed: ok, Before: b, After: b}, nil
}

// applySettings sets each setting in the edit's After text and names the
// keys that changed.
func applySettings(e *fileEdit, settings []setting) ([]string, error) {
	f := pgconf.Parse(e.After)
	var keys []string
	for _, st := range settings {
		ch, err := f.Set(st.key, st.value)
		if err != nil {
			return nil, fmt.Errorf("set %s in %s: %w", st.key, path.Base(e.Path), err)
		}
		if ch {
			keys = append(keys, st.key)
		}
	}
	e.After = f.Render()
	return keys, nil
}
