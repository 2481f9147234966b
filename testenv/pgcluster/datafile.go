package pgcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes a file inside the data directory (rel is relative to
// PGDATA), owned by postgres, creating parent directories as needed with
// the data directory's own mode (0700, or 0750 with group access).
func (c *Cluster) WriteFile(rel string, data []byte, perm os.FileMode) error {
	p := filepath.Join(c.DataDir, rel)
	pu, err := postgresUser()
	if err != nil {
		return err
	}
	dirMode, _ := c.dataModes()
	if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if os.Geteuid() != pu.uid {
		for d := p; d != c.DataDir && strings.HasPrefix(d, c.DataDir); d = filepath.Dir(d) {
			if err := os.Lchown(d, pu.uid, pu.gid); err != nil {
				return fmt.Errorf("chown %s: %w", d, err)
			}
		}
	}
	return nil
}

// dataModes are the modes PostgreSQL gives new directories and files in
// this data directory: 0700/0600, or 0750/0640 when initdb allowed group
// access.
func (c *Cluster) dataModes() (dir, file os.FileMode) {
	if st, err := os.Stat(c.DataDir); err == nil && st.Mode().Perm()&0o070 != 0 {
		return 0o750, 0o640
	}
	return 0o700, 0o600
}
