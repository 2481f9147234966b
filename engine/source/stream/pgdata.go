package stream

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// dataDir opens files of a PGDATA for reading. Every open goes through an
// os.Root, which refuses a path that leaves its directory by ".." or a
// symbolic link, so a request can reach nothing outside PGDATA except
// through the links PostgreSQL makes itself: pg_tblspc/<oid> (a
// tablespace) and pg_wal (initdb --waldir). Each of those gets a root of
// its own, opened through the link.
type dataDir struct {
	path  string
	roots map[string]*os.Root
}

func newDataDir(path string) *dataDir {
	return &dataDir{path: path, roots: map[string]*os.Root{}}
}

// open opens rel, a path relative to PGDATA with forward slashes.
func (d *dataDir) open(rel string) (*os.File, error) {
	if err := filemap.CheckPath(rel); err != nil {
		return nil, err
	}
	key, inner := splitRoot(rel)
	root, err := d.root(key)
	if err != nil {
		return nil, err
	}
	return root.Open(filepath.FromSlash(inner))
}

// splitRoot says under which root rel lies and what it is inside it.
func splitRoot(rel string) (key, inner string) {
	if rest, ok := strings.CutPrefix(rel, "pg_wal/"); ok {
		return "pg_wal", rest
	}
	if rest, ok := strings.CutPrefix(rel, "pg_tblspc/"); ok {
		if oid, in, ok := strings.Cut(rest, "/"); ok {
			return "pg_tblspc/" + oid, in
		}
	}
	return "", rel
}

// root opens (once) the root for key, "" being PGDATA itself.
func (d *dataDir) root(key string) (*os.Root, error) {
	if r, ok := d.roots[key]; ok {
		return r, nil
	}
	r, err := os.OpenRoot(filepath.Join(d.path, filepath.FromSlash(key)))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(d.path, key), err)
	}
	d.roots[key] = r
	return r, nil
}

// close closes every root.
func (d *dataDir) close() {
	for k, r := range d.roots {
		r.Close()
		delete(d.roots, k)
	}
}
