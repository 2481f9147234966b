package target

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// maxOpenFiles bounds the target files kept open between writes; a rewind
// may touch thousands of files and a parallel fetch writes several at once.
const maxOpenFiles = 64

// Options change how a Writer acts.
type Options struct {
	// DryRun makes every write, removal, creation and sync a no-op that
	// succeeds, as pg_rewind's --dry-run does.
	DryRun bool
	// NoSync skips the final fsync of the tree and of pg_control
	// (--no-sync).
	NoSync bool
}

// Writer applies changes to one target data directory.
type Writer struct {
	root     string
	opts     Options
	fileMode os.FileMode
	dirMode  os.FileMode

	mu   sync.RWMutex
	open map[string]*os.File
}

// Open prepares a writer for the data directory root, deriving the modes of
// new files and directories from root's own mode.
func Open(root string, opts Options) (*Writer, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("could not stat target data directory \"%s\": %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("target data directory \"%s\" is not a directory", root)
	}
	w := &Writer{root: root, opts: opts, open: make(map[string]*os.File)}
	w.fileMode, w.dirMode = ModesFor(st.Mode())
	return w, nil
}

// ModesFor returns the file and directory modes a server creates in a data
// directory of mode dirMode: group read access when the directory grants
// group read and search (0750), owner-only otherwise.
func ModesFor(dirMode os.FileMode) (file, dir os.FileMode) {
	if dirMode.Perm()&0o750 == 0o750 {
		return 0o640, 0o750
	}
	return 0o600, 0o700
}

// Root is the target data directory.
func (w *Writer) Root() string { return w.root }

// DryRun reports whether the writer only pretends.
func (w *Writer) DryRun() bool { return w.opts.DryRun }

// FileMode is the mode given to files the writer creates.
func (w *Writer) FileMode() os.FileMode { return w.fileMode }

// DirMode is the mode given to directories the writer creates.
func (w *Writer) DirMode() os.FileMode { return w.dirMode }

// resolve checks a data-directory-relative path again at write time and
// returns its location on disk. Paths come from the source, so this is the
// last line of defence against writing outside the target.
func (w *Writer) resolve(path string) (string, error) {
	if err := filemap.CheckPath(path); err != nil {
		return "", fmt.Errorf("refuse to write in target: %w", err)
	}
	return filepath.Join(w.root, filepath.FromSlash(path)), nil
}

// Close closes every target file still open.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for p, f := range w.open {
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("could not close target file \"%s\": %w", f.Name(), err)
		}
		delete(w.open, p)
	}
	return first
}
