package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps/pgconf"
)

var _ runbook.Validator = (*PgConf)(nil)

// PgConf writes a node's own identity (port, cluster_name,
// archive_command, ...) into its postgresql.conf. A rewind copies the new
// primary's configuration files over the old primary's, so after it these
// settings are the other node's and must be put back.
//
//	pg_conf:
//	  pgdata: /var/lib/postgresql/15/main
//	  set: {port: 1922, cluster_name: db1, archive_command: "test ! -f /arch/%f && cp %p /arch/%f"}
//
// The edit follows the conf step (package pgconf): comments and unrelated
// lines are kept, the last active line of a key is rewritten in place and
// earlier duplicates removed, values are quoted as PostgreSQL expects, and
// the diff is exact.
//
// postgresql.auto.conf (ALTER SYSTEM) is read after postgresql.conf, so a
// key set there silently wins over the value this step writes. With
// override_auto (the default) such keys are removed from
// postgresql.auto.conf, because the point of the step is that the node runs
// with these values; with override_auto: false the file is left alone and
// the step's message names the overriding keys.
type PgConf struct {
	// PGData is the data directory.
	PGData string `yaml:"pgdata"`
	// File is the configuration file, relative to PGData or absolute
	// (Debian keeps it in /etc/postgresql); default postgresql.conf.
	File string `yaml:"file"`
	// Set maps setting names to values, as in the conf step.
	Set map[string]any `yaml:"set"`
	// Unset lists settings whose active lines are removed.
	Unset []string `yaml:"unset"`
	// OverrideAuto removes the same keys from PGDATA/postgresql.auto.conf
	// (default true).
	OverrideAuto *bool `yaml:"override_auto"`
}

// Validate checks pgdata and the settings.
func (s *PgConf) Validate() error {
	if s.PGData == "" {
		return errors.New("pgdata is required")
	}
	return s.conf().Validate()
}

func (s *PgConf) conf() *Conf {
	return &Conf{Path: s.path(), Set: s.Set, Unset: s.Unset}
}

func (s *PgConf) path() string {
	f := s.File
	if f == "" {
		f = "postgresql.conf"
	}
	if path.IsAbs(f) {
		return f
	}
	return path.Join(s.PGData, f)
}

func (s *PgConf) overrideAuto() bool { return s.OverrideAuto == nil || *s.OverrideAuto }

// keys returns every key the step manages, in name order.
func (s *PgConf) keys() []string {
	keys := append([]string(nil), s.Unset...)
	for k := range s.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Run plans the edits of postgresql.conf and postgresql.auto.conf and
// writes the files whose text changes.
func (s *PgConf) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_conf: %w", err)
	}
	main, changedKeys, err := s.planMain(ctx, t)
	if err != nil {
		return runbook.Outcome{}, err
	}
	auto, overriding, err := s.planAuto(ctx, t)
	if err != nil {
		return runbook.Outcome{}, err
	}
	var msgs []string
	if main.changed() {
		msgs = append(msgs, "changed "+strings.Join(changedKeys, ", ")+" in "+path.Base(main.Path))
	}
	switch {
	case len(overriding) > 0 && s.overrideAuto():
		msgs = append(msgs, "removed "+strings.Join(overriding, ", ")+" from postgresql.auto.conf, where it would override")
	case len(overriding) > 0:
		msgs = append(msgs, "warning: postgresql.auto.conf also sets "+strings.Join(overriding, ", ")+" and overrides "+path.Base(main.Path)+" (override_auto is false)")
	}
	edits, diffs := planEdits([]*fileEdit{main, auto})
	out := runbook.Outcome{Changed: len(edits) > 0, Msg: strings.Join(msgs, "; ")}
	if out.Msg == "" {
		out.Msg = "settings as wanted"
	}
	if t.Diff {
		out.Diffs = maskDiffs(diffs, s.secrets())
	}
	if t.Check {
		return out, nil
	}
	for _, e := range edits {
		if err := e.apply(ctx, t); err != nil {
			return runbook.Outcome{}, fmt.Errorf("pg_conf %s: %w", s.PGData, err)
		}
	}
	return out, nil
}

// planMain edits the configuration file in memory. A missing file is an
// error: it means pgdata (or file) points at the wrong place.
func (s *PgConf) planMain(ctx context.Context, t *runbook.Target) (*fileEdit, []string, error) {
	p := s.path()
	before, ok, err := readFile(ctx, t, p)
	if err != nil {
		return nil, nil, fmt.Errorf("pg_conf %s: read %s: %w", s.PGData, p, err)
	}
	if !ok {
		return nil, nil, fmt.Errorf("pg_conf %s: %s does not exist: check pgdata, or give file: when the configuration lives elsewhere", s.PGData, p)
	}
	after, changed, err := s.conf().edit(before)
	if err != nil {
		return nil, nil, fmt.Errorf("pg_conf %s: %w", p, err)
	}
	return &fileEdit{Path: p, Existed: true, Before: before, After: after}, changed, nil
}

// planAuto finds the managed keys that postgresql.auto.conf also sets and,
// with override_auto, removes them there.
func (s *PgConf) planAuto(ctx context.Context, t *runbook.Target) (*fileEdit, []string, error) {
	p := path.Join(s.PGData, "postgresql.auto.conf")
	before, ok, err := readFile(ctx, t, p)
	if err != nil {
		return nil, nil, fmt.Errorf("pg_conf %s: read %s: %w", s.PGData, p, err)
	}
	e := &fileEdit{Path: p, Existed: ok, Before: before, After: before}
	if !ok || p == s.path() {
		return e, nil, nil
	}
	f := pgconf.Parse(before)
	var overriding []string
	for _, k := range s.keys() {
		if _, set := f.Get(k); !set {
			continue
		}
		overriding = append(overriding, k)
		if s.overrideAuto() {
			if _, err := f.Unset(k); err != nil {
				return nil, nil, fmt.Errorf("pg_conf %s: unset %s: %w", p, k, err)
			}
		}
	}
	e.After = f.Render()
	return e, overriding, nil
}

// secrets are the passwords in the values this step writes, masked in
// diffs.
func (s *PgConf) secrets() []string {
	var out []string
	for _, v := range s.Set {
		if str, ok := v.(string); ok {
			out = append(out, passwords(str)...)
		}
	}
	return out
}
