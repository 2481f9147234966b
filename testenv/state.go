package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFileName is the lab's record in its state directory.
const stateFileName = "lab.json"

// ErrNoLab is returned by Open when no lab of that name has a record.
var ErrNoLab = errors.New("no such lab")

// save writes lab.json atomically, so a reader never sees half a record.
func (l *Lab) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab %s: %w", l.Name, err)
	}
	return writeFileAtomic(l.statePath(stateFileName), append(b, '\n'), 0o644)
}

// Open reattaches to the lab called name, for example from the process
// that runs `pgrunbook lab down` after another ran `lab up`. stateDir is
// where the lab keeps its files; empty means the default one, or else the
// one recorded with the lab's subnet. A lab without a record is ErrNoLab.
func Open(ctx context.Context, name, stateDir string) (*Lab, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !labNamePattern.MatchString(name) {
		return nil, fmt.Errorf("open lab %q: not a lab name", name)
	}
	dirs := []string{stateDir}
	if stateDir == "" {
		dirs = []string{DefaultStateDir(name)}
		if d := findStateDir(name); d != "" && d != dirs[0] {
			dirs = append(dirs, d)
		}
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, stateFileName))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open lab %s: %w", name, err)
		}
		var l Lab
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("open lab %s: parse %s: %w", name, filepath.Join(dir, stateFileName), err)
		}
		if l.Name != name {
			return nil, fmt.Errorf("open lab %s: %s records lab %q", name, dir, l.Name)
		}
		return &l, nil
	}
	return nil, fmt.Errorf("open lab %s in %v: %w", name, dirs, ErrNoLab)
}

// writeFileAtomic writes data to a temporary name beside path, then renames
// it over path.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
