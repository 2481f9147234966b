package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// ConfigFileNames are the configuration files of a data directory's top
// level that --keep-config keeps: the node's own identity and access rules,
// which a rewind would otherwise replace with the new primary's.
var ConfigFileNames = []string{"postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf"}

// ConfigFileSuffixes are the endings of the certificate and key files of
// the data directory's top level that --keep-config keeps.
var ConfigFileSuffixes = []string{".crt", ".key", ".pem"}

// IsConfigFile tells whether rel, a path relative to the data directory
// with '/' separators, belongs to the configuration set --keep-config
// keeps: one of ConfigFileNames, or a top-level file ending in one of
// ConfigFileSuffixes.
func IsConfigFile(rel string) bool {
	if strings.Contains(rel, "/") {
		return false
	}
	for _, n := range ConfigFileNames {
		if rel == n {
			return true
		}
	}
	for _, s := range ConfigFileSuffixes {
		if strings.HasSuffix(rel, s) && len(rel) > len(s) {
			return true
		}
	}
	return false
}

// KeptConfigFile is one configuration file the rewind left as the target
// had it, in the report's "kept_config" list.
type KeptConfigFile struct {
	// Path is relative to the data directory.
	Path string `json:"path"`
	// SourceSize and TargetSize are the file's sizes on each side; nil when
	// that side has no such file.
	SourceSize *int64 `json:"source_size"`
	TargetSize *int64 `json:"target_size"`
	// Differs tells whether the source's copy, which pg_rewind would have
	// written, differs from the target's (a file on one side only
	// differs).
	Differs bool `json:"differs"`
}

// keepSet returns the extra paths of Options.KeepFiles, relative to the
// target data directory with '/' separators. An absolute path must lie
// inside the data directory; a path leaving it is refused.
func (r *run) keepSet() (map[string]bool, error) {
	set := map[string]bool{}
	for _, p := range r.opts.KeepFiles {
		rel := p
		if filepath.IsAbs(p) {
			var err error
			rel, err = filepath.Rel(filepath.Clean(r.opts.TargetDir), filepath.Clean(p))
			if err != nil {
				return nil, fmt.Errorf("keep file %s: %w", p, err)
			}
		}
		rel = path.Clean(filepath.ToSlash(rel))
		if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return nil, fmt.Errorf("keep file %s: not inside the target data directory %s", p, r.opts.TargetDir)
		}
		set[rel] = true
	}
	return set, nil
}

// keeps tells whether the rewind leaves rel as the target has it.
func (r *run) keeps(rel string, extra map[string]bool) bool {
	return extra[rel] || (r.opts.KeepConfig && IsConfigFile(rel))
}

// keepConfig turns every decision about a kept configuration file into
// NONE: the target's copy is not overwritten (COPY), not removed when the
// source lacks it (REMOVE), and a file only the source has is not created,
// so the node's configuration set stays exactly as it was. Each kept file
// goes into the report with whether the source's copy differs. The entries
// are sorted again into execution order, which keeps their paths' order
// within each action.
func (r *run) keepConfig(ctx context.Context, entries []*filemap.FileEntry) error {
	if !r.opts.KeepConfig && len(r.opts.KeepFiles) == 0 {
		return nil
	}
	extra, err := r.keepSet()
	if err != nil {
		return err
	}
	kept := []KeptConfigFile{}
	for _, e := range entries {
		if !r.keeps(e.Path, extra) {
			continue
		}
		regular := (e.Source.Exists && e.Source.Type == filemap.TypeRegular) || (e.Target.Exists && e.Target.Type == filemap.TypeRegular)
		if !regular {
			continue
		}
		k := KeptConfigFile{Path: e.Path}
		if e.Source.Exists {
			n := e.Source.Size
			k.SourceSize = &n
		}
		if e.Target.Exists {
			n := e.Target.Size
			k.TargetSize = &n
		}
		k.Differs, err = r.configDiffers(ctx, e)
		if err != nil {
			return err
		}
		e.Action = filemap.ActionNone
		r.debugf("keeping target's %s", e.Path)
		kept = append(kept, k)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Action < entries[j].Action })
	sort.Slice(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	r.rep.KeptConfig = kept
	return nil
}

// configDiffers compares the source's and the target's copies of a kept
// file. Configuration files are small, so both are read whole.
func (r *run) configDiffers(ctx context.Context, e *filemap.FileEntry) (bool, error) {
	if !e.Source.Exists || !e.Target.Exists || e.Source.Type != filemap.TypeRegular || e.Target.Type != filemap.TypeRegular {
		return true, nil
	}
	if e.Source.Size != e.Target.Size {
		return true, nil
	}
	theirs, err := r.src.FetchFile(ctx, e.Path)
	if err != nil {
		return false, fmt.Errorf("read source's %s to compare with the kept one: %w", e.Path, err)
	}
	ours, err := os.ReadFile(r.targetPath(e.Path))
	if err != nil {
		return false, fmt.Errorf("read target's %s to compare with the source's: %w", e.Path, err)
	}
	return !bytes.Equal(theirs, ours), nil
}
