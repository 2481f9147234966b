package filemap

import (
	"fmt"
	"strings"
)

// CheckPath refuses a data-directory-relative path that could make a writer
// step outside the target directory or that no PostgreSQL server would
// list: empty, absolute, containing a NUL byte, or with an
// empty, "." or ".." component. pg_rewind checks this only when it writes;
// the file map checks it as soon as a source lists the path, so a hostile or
// confused source is refused before any write happens.
func CheckPath(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("unsafe path %q: empty", path)
	case strings.HasPrefix(path, "/"):
		return fmt.Errorf("unsafe path %q: absolute", path)
	case strings.ContainsRune(path, 0):
		return fmt.Errorf("unsafe path %q: contains a NUL byte", path)
	}
	for _, c := range strings.Split(path, "/") {
		switch c {
		case "":
			return fmt.Errorf("unsafe path %q: empty component", path)
		case ".", "..":
			return fmt.Errorf("unsafe path %q: %q component", path, c)
		}
	}
	return nil
}
