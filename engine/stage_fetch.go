package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// stageTempSuffix marks a file being staged; it never matches a WAL file
// name, so neither the server nor a rewind takes it for one.
const stageTempSuffix = ".pgrunbook-tmp"

// fetchInto is the stager's wal.Fetcher: it fetches name from the archive
// to a temporary name beside dest, checks it, and renames it to dest. A
// file that fails the checks is removed, so pg_wal never holds a wrong
// segment.
func (s *stager) fetchInto(ctx context.Context, name, dest string) error {
	if s.noFetch {
		return fmt.Errorf("not fetched: source and target are on the same timeline, no rewind needs %s", name)
	}
	tmp := filepath.Join(filepath.Dir(dest), "."+name+stageTempSuffix)
	from, err := s.fetchTo(ctx, name, tmp)
	if err == nil {
		if verr := s.verify(name, tmp); verr != nil {
			// The operator fixes the archive, so say which file there.
			err = fmt.Errorf("%w (refused %s)", verr, from)
		}
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		if err = os.Rename(tmp, dest); err != nil {
			err = fmt.Errorf("stage %s: %w", name, err)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if s.writesTarget() {
		if err := syncFile(filepath.Dir(dest)); err != nil {
			return err
		}
	}
	st, err := os.Stat(dest)
	if err != nil {
		return fmt.Errorf("stat staged %s: %w", dest, err)
	}
	if !s.staged[name] {
		s.staged[name] = true
		s.rep.Staged = append(s.rep.Staged, StagedFile{Name: name, Bytes: st.Size(), From: from})
		s.rep.BytesStaged += st.Size()
		s.r.progressf("staged %s from %s", name, from)
		if s.opts.OnProgress != nil {
			s.opts.OnProgress(Progress{Phase: PhaseStagingWAL, Done: s.rep.BytesStaged, Unit: "bytes"})
		}
	}
	return nil
}

// fetchTo copies name from the archive directory, or runs the
// restore_command, leaving it at tmp. It returns where the file came from.
func (s *stager) fetchTo(ctx context.Context, name, tmp string) (string, error) {
	if s.opts.RestoreCommand != "" {
		f, err := wal.RestoreCommand(s.opts.RestoreCommand)
		if err != nil {
			return "", err
		}
		if err := f(ctx, name, tmp); err != nil {
			return "", err
		}
		return "restore_command", nil
	}
	if s.opts.ArchiveDir == "" {
		return "", fmt.Errorf("no WAL archive was given (--archive-dir or --restore-command)")
	}
	src := filepath.Join(s.opts.ArchiveDir, name)
	if err := copyFile(src, tmp); err != nil {
		return "", fmt.Errorf("not in the archive directory %s: %w", s.opts.ArchiveDir, err)
	}
	return src, nil
}

// verify checks a fetched file before it may take its name in pg_wal: a
// history file must parse; a segment must have the segment size and a long
// page header with the major's magic, the target's system identifier and
// segment size, and the segment's own start as page address (a recycled or
// misnamed file fails there).
func (s *stager) verify(name, path string) error {
	if strings.HasSuffix(name, ".history") {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read fetched %s: %w", name, err)
		}
		var tli lsn.TimeLineID
		if _, err := fmt.Sscanf(name, "%08X.history", &tli); err != nil {
			return fmt.Errorf("history file name %s: %w", name, err)
		}
		if _, err := timeline.Parse(name, b, tli); err != nil {
			return fmt.Errorf("fetched %s: %w", name, err)
		}
		return nil
	}
	_, seg, err := lsn.ParseSegmentName(name, s.segSize)
	if err != nil {
		return fmt.Errorf("fetched %s: %w", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open fetched %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat fetched %s: %w", name, err)
	}
	if st.Size() != int64(s.segSize) {
		return fmt.Errorf("fetched %s has %d bytes, not the segment size %d", name, st.Size(), s.segSize)
	}
	hdr := make([]byte, 40)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return fmt.Errorf("read page header of fetched %s: %w", name, err)
	}
	return checkLongHeader(hdr, name, s.r.tgtCF.Layout.PageMagic, s.r.tgtCF.SystemIdentifier, s.segSize, seg.Start(s.segSize))
}

// checkLongHeader checks the long page header (XLogLongPageHeaderData) at
// the start of a segment file.
func checkLongHeader(hdr []byte, name string, magic uint16, sysid uint64, segSize uint32, start lsn.LSN) error {
	const longHeader = 0x0002
	gotMagic := binary.LittleEndian.Uint16(hdr[0:])
	info := binary.LittleEndian.Uint16(hdr[2:])
	addr := lsn.LSN(binary.LittleEndian.Uint64(hdr[8:]))
	gotSys := binary.LittleEndian.Uint64(hdr[24:])
	gotSeg := binary.LittleEndian.Uint32(hdr[32:])
	switch {
	case gotMagic != magic:
		return fmt.Errorf("fetched %s: page magic %04X, want %04X (WAL of another major version?)", name, gotMagic, magic)
	case info&longHeader == 0:
		return fmt.Errorf("fetched %s: first page has no long header (info %04X)", name, info)
	case gotSys != sysid:
		return fmt.Errorf("fetched %s: WAL file is from different database system: system identifier %d, pg_control's %d", name, gotSys, sysid)
	case gotSeg != segSize:
		return fmt.Errorf("fetched %s: segment size %d in page header, want %d", name, gotSeg, segSize)
	case addr != start:
		return fmt.Errorf("fetched %s: page address %s, want %s (a recycled or misnamed file)", name, addr, start)
	}
	return nil
}

// copyFile copies src to a new file dst with mode 0600, as the server
// creates WAL files.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// syncFile fsyncs a file or directory, so a staged segment survives a
// crash once it has its name.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}
