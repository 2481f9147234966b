package timeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000002.history"), []byte("1\t0/3002EB0\tno recovery target specified\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000003.history"), []byte("1\t0/3002EB0\tx\nzz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := ReadDir(dir, 2)
	if err != nil || !slices.Equal(h, History{{1, 0, 0x3002EB0}, {2, 0x3002EB0, 0}}) {
		t.Errorf("ReadDir(2) = %v, %v", h, err)
	}
	h, err = ReadDir(dir, 1)
	if err != nil || !slices.Equal(h, Single(1)) {
		t.Errorf("ReadDir(1) = %v, %v", h, err)
	}
	_, err = ReadDir(dir, 3)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "00000003.history")+":2:") {
		t.Errorf("ReadDir(3) error %v, want file:line", err)
	}
	_, err = ReadDir(dir, 4)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `could not open file "`) {
		t.Errorf("ReadDir(4) error %v", err)
	}
}
