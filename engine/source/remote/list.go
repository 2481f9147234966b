package remote

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// listQuery walks the data directory recursively on the server.
// pg_stat_file follows symbolic links, so pg_wal and tablespace links are
// descended into; tablespace links are recognised by joining pg_tablespace
// on the entries directly under pg_tblspc. Other links cannot be seen from
// SQL and appear as what they point to.
const listQuery = `WITH RECURSIVE files (path, filename, size, isdir) AS (
  SELECT '' AS path, filename, size, isdir FROM
  (SELECT pg_ls_dir('.', true, false) AS filename) AS fn,
        pg_stat_file(fn.filename, true) AS this
  UNION ALL
  SELECT parent.path || parent.filename || '/' AS path,
         fn, this.size, this.isdir
  FROM files AS parent,
       pg_ls_dir(parent.path || parent.filename, true, false) AS fn,
       pg_stat_file(parent.path || parent.filename || '/' || fn, true) AS this
       WHERE parent.isdir = 't'
)
SELECT path || filename, size, isdir,
       pg_tablespace_location(pg_tablespace.oid) AS link_target
FROM files
LEFT OUTER JOIN pg_tablespace ON files.path = 'pg_tblspc/'
                             AND oid::text = files.filename`

// List streams the source's data directory listing to fn. Entries that
// vanished while the query ran (NULL size) are skipped; an unsafe path
// fails the listing before fn sees it.
func (s *Source) List(ctx context.Context, fn func(filemap.File) error) error {
	// Run once: the simple protocol spares the preparing round trip.
	rows, err := s.conns[0].Query(ctx, listQuery, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return s.red.wrap("fetch file list", err)
	}
	defer rows.Close()
	for rows.Next() {
		var path string
		var size *int64
		var isDir *bool
		var link *string
		if err := rows.Scan(&path, &size, &isDir, &link); err != nil {
			return s.red.wrap("fetch file list", err)
		}
		if size == nil || isDir == nil {
			continue
		}
		if err := filemap.CheckPath(path); err != nil {
			return fmt.Errorf("source file list: %w", err)
		}
		f := filemap.File{Path: path, Size: *size}
		switch {
		case link != nil && *link != "":
			f.Type, f.LinkTarget, f.Size = filemap.TypeSymlink, *link, 0
		case *isDir:
			f.Type, f.Size = filemap.TypeDirectory, 0
		default:
			f.Type = filemap.TypeRegular
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.red.wrap("fetch file list", err)
	}
	return nil
}
