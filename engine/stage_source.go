package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// stager is the page source of a staging run: it serves the readers' pages
// from pg_wal and, for a segment pg_wal lacks, fetches it from the archive
// first, into pg_wal or (dry run, check only) into a private spool
// directory. It records every segment asked for.
type stager struct {
	opts StageOptions
	rep  *StageReport
	r    *run

	walPath   string
	segSize   uint32
	main      *wal.Dir
	spool     *wal.Dir
	spoolPath string

	asked      map[string]bool
	askedOrder []string
	staged     map[string]bool
	// noFetch is set when the clusters share a timeline: then no rewind
	// is needed and the archive is left alone.
	noFetch bool
}

// writesTarget is false when the staging must leave pg_wal as it is.
func (s *stager) writesTarget() bool { return !s.opts.DryRun && !s.opts.CheckOnly }

// open prepares pg_wal (pg_xlog before 10) and, when the target must not
// be written, the spool directory.
func (s *stager) open() error {
	cf := s.r.tgtCF
	dir := "pg_wal"
	if cf.Layout.Major < 10 {
		dir = "pg_xlog"
	}
	s.walPath = s.r.targetPath(dir)
	s.segSize = cf.WalSegSize
	s.asked, s.staged = map[string]bool{}, map[string]bool{}
	if s.writesTarget() {
		s.main = wal.NewDir(s.walPath, s.segSize, s.fetchInto)
		return nil
	}
	s.main = wal.NewDir(s.walPath, s.segSize, nil)
	p, err := os.MkdirTemp("", "pgrunbook-stage-")
	if err != nil {
		return fmt.Errorf("create WAL spool directory: %w", err)
	}
	s.spoolPath = p
	s.spool = wal.NewDir(p, s.segSize, s.fetchInto)
	return nil
}

// ReadPage implements wal.PageSource.
func (s *stager) ReadPage(ctx context.Context, tli lsn.TimeLineID, seg lsn.SegNo, off uint32, buf []byte) error {
	name := lsn.SegmentName(tli, seg, s.segSize)
	if !s.asked[name] {
		s.asked[name] = true
		s.askedOrder = append(s.askedOrder, name)
	}
	src := s.main
	if s.spool != nil && !s.inWAL(name) {
		src = s.spool
	}
	err := src.ReadPage(ctx, tli, seg, off, buf)
	var missing *wal.MissingSegmentError
	if errors.As(err, &missing) {
		return &wal.MissingSegmentError{Dir: s.walPath, Name: name, Err: fs.ErrNotExist, FetchErr: s.whereMissing(missing)}
	}
	return err
}

// whereMissing says where a missing segment was looked for.
func (s *stager) whereMissing(m *wal.MissingSegmentError) error {
	switch {
	case m.FetchErr != nil:
		return m.FetchErr
	case s.opts.ArchiveDir == "" && s.opts.RestoreCommand == "":
		return errors.New("no WAL archive was given (--archive-dir or --restore-command)")
	}
	return m.Err
}

// ensureSegment makes sure a segment the rewind keeps is in pg_wal (or, dry
// run, could be), without reading it through the reader.
func (s *stager) ensureSegment(ctx context.Context, name string) error {
	tli, seg, err := lsn.ParseSegmentName(name, s.segSize)
	if err != nil {
		return fmt.Errorf("stage WAL segment %s: %w", name, err)
	}
	return s.ReadPage(ctx, tli, seg, 0, make([]byte, s.r.tgtCF.WalBlockSize))
}

// ensureHistory stages the timeline history file of tli (and so all its
// ancestors, which it lists) when pg_wal lacks it.
func (s *stager) ensureHistory(ctx context.Context, tli lsn.TimeLineID) error {
	if tli <= 1 {
		return nil
	}
	name := lsn.HistoryFileName(tli)
	if s.inWAL(name) {
		s.rep.Present = append(s.rep.Present, name)
		return nil
	}
	dir := s.walPath
	if !s.writesTarget() {
		dir = s.spoolPath
	}
	if err := s.fetchInto(ctx, name, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("timeline history file %s is missing from %s: %w", name, s.walPath, err)
	}
	if !s.writesTarget() {
		// The history is read from pg_wal by the rewind's own code; in a
		// dry run it must come from the spool instead.
		return s.historyFromSpool(tli)
	}
	return nil
}

// historyFromSpool checks a spooled history file; a dry run cannot go on
// without it in pg_wal, so it stops there with what it found.
func (s *stager) historyFromSpool(tli lsn.TimeLineID) error {
	return fmt.Errorf("timeline history file %s is not in %s (the archive has it; a real run stages it)",
		lsn.HistoryFileName(tli), s.walPath)
}

// inWAL reports whether pg_wal holds name.
func (s *stager) inWAL(name string) bool {
	_, err := os.Stat(filepath.Join(s.walPath, name))
	return err == nil
}
