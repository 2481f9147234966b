package target

import (
	"fmt"
	"os"
)

// ControlFilePath is where pg_control lives in a data directory.
const ControlFilePath = "global/pg_control"

// WriteControlFile overwrites global/pg_control in place with image (the
// full 8192 bytes, CRC already set) and fsyncs it unless no-sync. It is the
// last write of a rewind. The file must exist: writing in place rather than
// by rename matches the server, which never expects pg_control to be
// replaced.
func (w *Writer) WriteControlFile(image []byte) error {
	if w.opts.DryRun {
		return nil
	}
	full, err := w.resolve(ControlFilePath)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.closeFile(ControlFilePath)
	w.mu.Unlock()
	f, err := os.OpenFile(full, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("could not open file \"%s\": %w", full, err)
	}
	if _, err := f.WriteAt(image, 0); err != nil {
		f.Close()
		return fmt.Errorf("could not write file \"%s\": %w", full, err)
	}
	if !w.opts.NoSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("could not fsync file \"%s\": %w", full, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("could not close file \"%s\": %w", full, err)
	}
	return nil
}
