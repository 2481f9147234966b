package rewindtest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Tree is what a directory tree looks like from outside: for each path
// relative to the root, its type, mode, size and modification time. Two
// snapshots that are equal mean nothing was written, created, removed or
// chmodded in between (contents rewritten in place at the same size within
// the same mtime tick aside, which file systems with nanosecond times make
// unlikely).
type Tree map[string]TreeEntry

// TreeEntry is one path of a Tree.
type TreeEntry struct {
	// Mode is the type and permission bits.
	Mode fs.FileMode
	// Size is the length of a regular file (0 otherwise).
	Size int64
	// ModTime is the modification time.
	ModTime time.Time
	// Link is a symlink's target.
	Link string
}

// SnapshotTree records root and everything under it, without following
// symlinks.
func SnapshotTree(root string) (Tree, error) {
	t := Tree{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		e := TreeEntry{Mode: info.Mode(), ModTime: info.ModTime()}
		if info.Mode().IsRegular() {
			e.Size = info.Size()
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		t[rel] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", root, err)
	}
	return t, nil
}

// Diff lists, sorted, every path that was added, removed or changed from t
// to later.
func (t Tree) Diff(later Tree) []string {
	var out []string
	for p, e := range t {
		l, ok := later[p]
		switch {
		case !ok:
			out = append(out, "removed "+p)
		case !l.same(e):
			out = append(out, fmt.Sprintf("changed %s: %v %d %s -> %v %d %s",
				p, e.Mode, e.Size, e.ModTime.Format(time.RFC3339Nano), l.Mode, l.Size, l.ModTime.Format(time.RFC3339Nano)))
		}
	}
	for p := range later {
		if _, ok := t[p]; !ok {
			out = append(out, "added "+p)
		}
	}
	sort.Strings(out)
	return out
}

// same compares entries; times with Equal, since == also compares the
// location.
func (e TreeEntry) same(o TreeEntry) bool {
	return e.Mode == o.Mode && e.Size == o.Size && e.Link == o.Link && e.ModTime.Equal(o.ModTime)
}
