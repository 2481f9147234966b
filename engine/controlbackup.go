package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// ControlBackupPath is where the target's own pg_control is kept, relative
// to the data directory, from the first write of a rewind until the rewind
// has finished. A rewind that dies part way leaves it behind: it holds the
// control file of the cluster as it was before, which an operator (or a
// rerun) needs to tell what the node was. A crash can also leave
// global/pg_control itself torn or empty; CloudNativePG keeps such a copy
// for the same reason.
const ControlBackupPath = "global/pg_control.pgrunbook-backup"

// backupControl writes the copy before the first change to the target. A
// copy left by an interrupted earlier rewind is kept as it is: it is the
// older, truer one (the interrupted run may already have replaced
// pg_control).
func (r *run) backupControl() error {
	if r.opts.DryRun {
		return nil
	}
	path := r.targetPath(ControlBackupPath)
	if _, err := os.Lstat(path); err == nil {
		r.debugf("keeping %s from an earlier, interrupted rewind", ControlBackupPath)
		return nil
	}
	raw, err := os.ReadFile(r.targetPath(target.ControlFilePath))
	if err != nil {
		return fmt.Errorf("back up control file: %w", err)
	}
	tmp := path + ".tmp"
	if err := writeSynced(tmp, raw, r.w.FileMode()); err != nil {
		return fmt.Errorf("back up control file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("back up control file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// keepControlBackup stops the file map from removing a backup an earlier,
// interrupted rewind left (the source has no such file, so pg_rewind's
// rules would remove it).
func keepControlBackup(entries []*filemap.FileEntry) {
	for _, e := range entries {
		if e.Path == ControlBackupPath && e.Action == filemap.ActionRemove {
			e.Action = filemap.ActionNone
		}
	}
}

// dropControlBackup removes the copy once the rewind has finished and the
// target is synced.
func (r *run) dropControlBackup() error {
	if r.opts.DryRun {
		return nil
	}
	if err := os.Remove(r.targetPath(ControlBackupPath)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove control file backup: %w", err)
	}
	return nil
}

// writeSynced writes data to a new file and fsyncs it.
func writeSynced(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
