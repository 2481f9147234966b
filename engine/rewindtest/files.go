package rewindtest

import (
	"fmt"
	"io"
	"os"
)

// groupAccess reports whether a data directory was made with group access.
func groupAccess(dataDir string) bool {
	st, err := os.Stat(dataDir)
	return err == nil && st.Mode().Perm()&0o070 != 0
}

// copyFile copies a regular file, replacing dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	return nil
}
