package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps/pgconf"
)

// Conf sets and removes settings in a file of postgresql.conf syntax,
// touching nothing else in it (see package pgconf for the editing rules).
//
//	conf:
//	  path: /etc/postgresql/15/main/postgresql.conf
//	  set: {port: 5432, archive_command: "test ! -f /arch/%f && cp %p /arch/%f"}
//	  unset: [restore_command]
type Conf struct {
	// Path is the file on the host; it is created (mode 0600 unless Mode
	// says otherwise) when missing and there is something to set.
	Path string `yaml:"path"`
	// Set maps setting names to values: strings, numbers or booleans
	// (written on/off). Values equal in meaning to the current ones, such as
	// 5432 and '5432', change nothing. Passwords in connection strings are
	// masked in diffs.
	Set map[string]any `yaml:"set"`
	// Unset lists settings whose active lines are removed.
	Unset []string `yaml:"unset"`
	// Mode, Owner and Group apply to the file whenever it is written; unset
	// keeps those of the existing file.
	Mode  *Mode  `yaml:"mode"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// Validate checks the path and every setting name and value.
func (c *Conf) Validate() error {
	if c.Path == "" {
		return errors.New("path is required")
	}
	if len(c.Set) == 0 && len(c.Unset) == 0 {
		return fmt.Errorf("%s: nothing to set or unset", c.Path)
	}
	for k, v := range c.Set {
		if !pgconf.ValidKey(k) {
			return fmt.Errorf("%s: invalid setting name %q", c.Path, k)
		}
		if _, err := pgconf.FormatValue(v); err != nil {
			return fmt.Errorf("%s: set %s: %w", c.Path, k, err)
		}
	}
	for _, k := range c.Unset {
		if !pgconf.ValidKey(k) {
			return fmt.Errorf("%s: invalid setting name %q", c.Path, k)
		}
		if _, ok := c.Set[k]; ok {
			return fmt.Errorf("%s: %s is both set and unset", c.Path, k)
		}
	}
	return nil
}

// Run reads the file, applies the edit in memory and writes the file back
// only when its text changed.
func (c *Conf) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := c.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("conf: %w", err)
	}
	before, exists, err := readFile(ctx, t, c.Path)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("conf %s: read: %w", c.Path, err)
	}
	after, changedKeys, err := c.edit(before)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("conf %s: %w", c.Path, err)
	}
	if exists && string(after) == string(before) {
		return runbook.Outcome{Msg: "settings as wanted"}, nil
	}
	if !exists && len(c.Set) == 0 {
		return runbook.Outcome{Msg: "file absent, nothing to unset"}, nil
	}
	out := runbook.Outcome{Changed: true, Msg: "changed " + strings.Join(changedKeys, ", ")}
	if !exists {
		out.Msg = "created with " + strings.Join(changedKeys, ", ")
	}
	if t.Diff {
		// Diffs are printed; connection strings' passwords are masked.
		out.Diffs = maskDiffs([]runbook.FileDiff{{Path: c.Path, Before: string(before), After: string(after)}}, c.secrets())
	}
	if t.Check {
		return out, nil
	}
	if err := writeFile(ctx, t, c.Path, after, c.Mode, c.Owner, c.Group); err != nil {
		return runbook.Outcome{}, fmt.Errorf("conf %s: write: %w", c.Path, err)
	}
	return out, nil
}

// edit applies Set (in name order, so new lines are appended in a stable
// order) and Unset to the text and names the settings that changed.
func (c *Conf) edit(text []byte) ([]byte, []string, error) {
	f := pgconf.Parse(text)
	keys := make([]string, 0, len(c.Set))
	for k := range c.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changed []string
	for _, k := range keys {
		v, err := pgconf.FormatValue(c.Set[k])
		if err != nil {
			return nil, nil, fmt.Errorf("set %s: %w", k, err)
		}
		ch, err := f.Set(k, v)
		if err != nil {
			return nil, nil, fmt.Errorf("set %s: %w", k, err)
		}
		if ch {
			changed = append(changed, k)
		}
	}
	for _, k := range c.Unset {
		ch, err := f.Unset(k)
		if err != nil {
			return nil, nil, fmt.Errorf("unset %s: %w", k, err)
		}
		if ch {
			changed = append(changed, k)
		}
	}
	return f.Render(), changed, nil
}

// secrets are the passwords in the values being set, which diffs hide even
// where no password= pattern reveals them.
func (c *Conf) secrets() []string {
	var out []string
	for _, v := range c.Set {
		if s, ok := v.(string); ok {
			out = append(out, passwords(s)...)
		}
	}
	return out
}
