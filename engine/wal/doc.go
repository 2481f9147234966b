// Package wal reads PostgreSQL write-ahead log the way pg_rewind does: page
// by page from segment files, validating every page header and record,
// assembling records that span pages and segments, and decoding the
// rmgr-independent part of each record (block references and main data).
//
// A Reader takes its pages from a PageSource. Dir reads the segment files of
// a pg_wal directory and, when one is missing, can ask a Fetcher for it:
// RestoreCommand runs a restore_command as pg_rewind -c does, and any Go
// function can stand in for one (the executor's WAL staging does). The
// timeline history picks which timeline's file holds each segment, so a
// reader follows a target across promotions.
//
//	src := wal.NewDir(filepath.Join(pgdata, "pg_wal"), cf.WalSegSize, nil)
//	defer src.Close()
//	r, err := wal.NewReader(wal.ConfigFor(cf, src, hist))
//	ckpt, keep, err := wal.FindLastCommonCheckpoint(ctx, r, divergence)
//	err = wal.ScanBlocks(ctx, r, ckpt.LSN, targetEnd, wal.ScanFuncs{Block: ...})
//
// Error messages reuse pg_rewind's wording where scripts look for it ("could
// not find previous WAL record at X/Y", "invalid record length at X/Y",
// "could not open file ..."). A missing segment is a *MissingSegmentError
// that names the segment file.
package wal
