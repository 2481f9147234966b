package pgcontrol

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/layout"
)

// Read reads and parses the pg_control file at path, picking the layout
// from the file's own version fields.
func Read(path string) (*ControlFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pg_control %s: %w", path, err)
	}
	cf, err := Parse(b, nil)
	if err != nil {
		return nil, fmt.Errorf("read pg_control %s: %w", path, err)
	}
	return cf, nil
}

// Write overwrites the existing pg_control file at path with image, which
// must be exactly 8192 bytes (see Marshal). Like PostgreSQL it writes in
// place rather than through a temporary file: the server reads pg_control
// by this exact name, and one 8192-byte write does not tear in practice. A
// missing file is an error, not created, so that a wrong path cannot
// scatter control files around. With fsync it flushes the file and then
// its directory, so the new state survives a crash.
func Write(path string, image []byte, fsync bool) error {
	if len(image) != layout.FileSize {
		return fmt.Errorf("write pg_control %s: image is %d bytes, want %d", path, len(image), layout.FileSize)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write pg_control %s: %w", path, err)
	}
	if _, err := f.WriteAt(image, 0); err != nil {
		f.Close()
		return fmt.Errorf("write pg_control %s: %w", path, err)
	}
	if fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("fsync pg_control %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close pg_control %s: %w", path, err)
	}
	if fsync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("write pg_control %s: %w", path, err)
		}
	}
	return nil
}

// syncDir flushes a directory so that a file created in it stays there
// after a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
