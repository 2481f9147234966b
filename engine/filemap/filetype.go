package filemap

import "fmt"

// FileType is the kind of a directory entry as a rewind sees it. Anything
// that is neither a regular file, a directory nor a symbolic link (sockets,
// FIFOs) is not listed at all.
type FileType int

// The file types, numbered as in pg_rewind so that debug dumps compare.
const (
	TypeUndefined FileType = iota
	TypeRegular
	TypeDirectory
	TypeSymlink
)

// String names the type in lower case, for error messages.
func (t FileType) String() string {
	switch t {
	case TypeRegular:
		return "regular file"
	case TypeDirectory:
		return "directory"
	case TypeSymlink:
		return "symbolic link"
	default:
		return fmt.Sprintf("undefined file type %d", int(t))
	}
}

// File is one entry of a data directory listing, as produced by a source or
// by the target walk. Size is meaningful for regular files only; LinkTarget
// only for symbolic links (for a remote source it is the tablespace location).
type File struct {
	Path       string
	Type       FileType
	Size       int64
	LinkTarget string
}
