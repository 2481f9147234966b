package target

import (
	"fmt"
	"time"
)

// BackupLabel is what the rewound target's backup_label tells recovery:
// where to start replaying (the last common checkpoint's redo, or a standby
// source's restartpoint) and that the end of backup is reached at
// minRecoveryPoint, since the label says "BACKUP FROM: standby".
type BackupLabel struct {
	// StartLSN is the redo location replay starts from.
	StartLSN uint64
	// StartWALFile is the 24-hex-digit name of the segment holding
	// StartLSN on the start timeline.
	StartWALFile string
	// CheckpointLSN is the location of the checkpoint record.
	CheckpointLSN uint64
	// StartTime is printed in local time as pg_rewind does.
	StartTime time.Time
}

// Text renders the five lines pg_rewind writes (no LABEL line).
func (l BackupLabel) Text() string {
	return fmt.Sprintf("START WAL LOCATION: %X/%X (file %s)\n"+
		"CHECKPOINT LOCATION: %X/%X\n"+
		"BACKUP METHOD: pg_rewind\n"+
		"BACKUP FROM: standby\n"+
		"START TIME: %s\n",
		uint32(l.StartLSN>>32), uint32(l.StartLSN), l.StartWALFile,
		uint32(l.CheckpointLSN>>32), uint32(l.CheckpointLSN),
		l.StartTime.Local().Format("2006-01-02 15:04:05 MST"))
}

// WriteBackupLabel writes backup_label into the target (any old one was
// removed earlier as an excluded file).
func (w *Writer) WriteBackupLabel(l BackupLabel) error {
	if w.opts.DryRun {
		return nil
	}
	if len(l.StartWALFile) != 24 {
		return fmt.Errorf("write backup_label: WAL file name %q is not 24 characters", l.StartWALFile)
	}
	if err := w.BeginCopy("backup_label"); err != nil {
		return err
	}
	if err := w.Write("backup_label", 0, []byte(l.Text()), false); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.open["backup_label"]; ok {
		delete(w.open, "backup_label")
		if err := f.Close(); err != nil {
			return fmt.Errorf("could not close target file \"%s\": %w", f.Name(), err)
		}
	}
	return nil
}
