package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// WALBackupDirName is the directory, inside the target's pg_wal, that
// holds hard links to the target's own WAL files from the first write of a
// rewind until the rewind has finished. The rewind overwrites the target's
// WAL segments with the source's copies (which end at the divergence) and
// removes the ones the source lacks, yet a rerun after a failure part way
// (a full disk, a lost connection) must read the target's WAL again from
// the last common checkpoint to its end. A rerun finds the links and puts
// the files back first. Hard links cost no space, which matters most when
// the disk is what ran out; they live in pg_wal so that a pg_wal that is a
// symlink to another file system still works. The server ignores
// directories in pg_wal.
const WALBackupDirName = "pgrunbook-rewind-backup"

// walDirName is the target's WAL directory, relative to the data directory.
func (r *run) walDirName() string {
	if r.layout != nil && r.layout.Major < 10 {
		return "pg_xlog"
	}
	return "pg_wal"
}

// walBackupPath is the backup directory relative to the data directory.
func (r *run) walBackupPath() string {
	return r.walDirName() + "/" + WALBackupDirName
}

// keepWALBackup stops the file map from removing the backup directory or
// its files (the source has none, so pg_rewind's rules would remove them).
func (r *run) keepWALBackup(entries []*filemap.FileEntry) {
	dir := r.walBackupPath()
	for _, e := range entries {
		if (e.Path == dir || strings.HasPrefix(e.Path, dir+"/")) && e.Action == filemap.ActionRemove {
			e.Action = filemap.ActionNone
		}
	}
}

// backupWAL links every file directly in the target's WAL directory that
// the rewind will overwrite or remove into the backup directory, then
// unlinks each one to be overwritten, so that the copy writes a new file
// and the link keeps the target's version. A link an earlier, interrupted
// rewind left is kept: it is the target's own version.
func (r *run) backupWAL(entries []*filemap.FileEntry) error {
	if r.opts.DryRun {
		return nil
	}
	walDir := r.walDirName()
	backup := r.targetPath(r.walBackupPath())
	made := false
	for _, e := range entries {
		if path.Dir(e.Path) != walDir || !e.Target.Exists || e.Target.Type != filemap.TypeRegular ||
			(e.Action != filemap.ActionCopy && e.Action != filemap.ActionRemove) {
			continue
		}
		if !made {
			if err := os.Mkdir(backup, r.w.DirMode()); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("back up target WAL: %w", err)
			}
			made = true
		}
		link := filepath.Join(backup, path.Base(e.Path))
		if err := os.Link(r.targetPath(e.Path), link); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("back up target WAL file %s: %w", e.Path, err)
		}
		if e.Action == filemap.ActionCopy {
			if err := os.Remove(r.targetPath(e.Path)); err != nil {
				return fmt.Errorf("back up target WAL file %s: %w", e.Path, err)
			}
		}
	}
	if !made {
		return nil
	}
	if err := syncDir(backup); err != nil {
		return fmt.Errorf("back up target WAL: %w", err)
	}
	if err := syncDir(r.targetPath(walDir)); err != nil {
		return fmt.Errorf("back up target WAL: %w", err)
	}
	return nil
}

// restoreWAL puts back the target's own WAL files an interrupted rewind
// kept, before anything reads the target's WAL. It does so only while
// pg_control is still the target's own (equal to the control file backup):
// once an interrupted rewind has replaced pg_control, the target follows
// the source's WAL and the links are left for the operator.
func (r *run) restoreWAL() error {
	if r.opts.DryRun {
		return nil
	}
	backup := r.targetPath(r.walBackupPath())
	ents, err := os.ReadDir(backup)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore target WAL from %s: %w", backup, err)
	}
	saved, err := os.ReadFile(r.targetPath(ControlBackupPath))
	if err != nil {
		r.debugf("leaving %s: no control file backup beside it: %v", backup, err)
		return nil
	}
	current, err := os.ReadFile(r.targetPath(target.ControlFilePath))
	// A fenced pg_control (markerfence.go) is still the target's own.
	if err != nil || (!bytes.Equal(saved, current) && !bytes.Equal(fencedControl(saved), current)) {
		r.debugf("leaving %s: pg_control is no longer the target's own", backup)
		return nil
	}
	walDir := r.targetPath(r.walDirName())
	for _, e := range ents {
		link := filepath.Join(backup, e.Name())
		if err := os.Rename(link, filepath.Join(walDir, e.Name())); err != nil {
			return fmt.Errorf("restore target WAL file %s: %w", e.Name(), err)
		}
		// Renaming a link onto another link of the same file (one the
		// interrupted rewind never reached) leaves both in place.
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore target WAL file %s: %w", e.Name(), err)
		}
	}
	if err := os.Remove(backup); err != nil {
		return fmt.Errorf("restore target WAL: %w", err)
	}
	if err := syncDir(walDir); err != nil {
		return fmt.Errorf("restore target WAL: %w", err)
	}
	r.infof("restored %d target WAL files that an interrupted rewind had kept in %s", len(ents), backup)
	return nil
}

// dropWALBackup removes the links once the rewind has finished and the
// target is synced.
func (r *run) dropWALBackup() error {
	if r.opts.DryRun {
		return nil
	}
	if err := os.RemoveAll(r.targetPath(r.walBackupPath())); err != nil {
		return fmt.Errorf("remove target WAL backup: %w", err)
	}
	return nil
}
