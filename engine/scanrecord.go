package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// The scan record keeps what a rewind learned from the target's WAL (the
// divergence, the last common checkpoint, the target's end of WAL and
// every block it changed) next to the marker, written before the first
// change to the target. The rewind overwrites and removes the target's WAL
// segments as it goes (it reuses the files of removed segments for the
// source's new ones, so their blocks are neither freed nor allocated
// again), so a rerun after an interruption could not read that WAL again;
// it reads this record instead. It lives outside PGDATA, beside the
// marker, for the marker's reasons.

// ScanRecordSuffix ends the name of a rewind's scan record, which sits
// beside its marker (MarkerPath plus this suffix).
const ScanRecordSuffix = ".scan"

// scanRecordMagic starts the file; the version is in it.
const scanRecordMagic = "pgrunbook-rewind-scan 1\n"

// scanRecord is the header of the record; the blocks follow it.
type scanRecord struct {
	// SystemID and CheckPoint bind the record to the target's own control
	// file (its backup while pg_control is fenced): a record of another
	// cluster, or of an earlier state of this one, is never used.
	SystemID   uint64 `json:"system_identifier"`
	CheckPoint uint64 `json:"checkpoint"`

	Divergence    uint64           `json:"divergence"`
	DivergenceTLI uint32           `json:"divergence_timeline"`
	TargetEnd     uint64           `json:"target_end"`
	CommonLSN     uint64           `json:"common_checkpoint"`
	CommonRedo    uint64           `json:"common_checkpoint_redo"`
	CommonTLI     uint32           `json:"common_checkpoint_timeline"`
	History       []timeline.Entry `json:"target_history"`
	KeepWAL       []string         `json:"keep_wal"`
	Lost          *Lost            `json:"lost,omitempty"`
	Blocks        []changedBlock   `json:"-"`
}

// ScanRecordPath is where the scan record of a rewind of pgdata lives.
func ScanRecordPath(pgdata string) string { return MarkerPath(pgdata) + ScanRecordSuffix }

// blockRecordSize is the size of one changed block in the record:
// tablespace, database, relation and block number, little-endian.
const blockRecordSize = 16

// marshal renders the record: magic, header length, JSON header, blocks,
// and a CRC-32C of everything before it.
func (s *scanRecord) marshal() ([]byte, error) {
	head, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(scanRecordMagic) + 4 + len(head) + 8 + len(s.Blocks)*blockRecordSize + 4)
	b.WriteString(scanRecordMagic)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(head))))
	b.Write(head)
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s.Blocks))))
	var rec [blockRecordSize]byte
	for _, blk := range s.Blocks {
		binary.LittleEndian.PutUint32(rec[0:], blk.rel.Spc)
		binary.LittleEndian.PutUint32(rec[4:], blk.rel.DB)
		binary.LittleEndian.PutUint32(rec[8:], blk.rel.Rel)
		binary.LittleEndian.PutUint32(rec[12:], blk.blk)
		b.Write(rec[:])
	}
	b.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(b.Bytes(), crc32.MakeTable(crc32.Castagnoli))))
	return b.Bytes(), nil
}

// errScanRecordCorrupt is wrapped by every failure to parse a record.
var errScanRecordCorrupt = errors.New("corrupt scan record")

// parseScanRecord reads a record marshal wrote, checking its CRC first.
func parseScanRecord(raw []byte) (*scanRecord, error) {
	if len(raw) < len(scanRecordMagic)+4+8+4 || string(raw[:len(scanRecordMagic)]) != scanRecordMagic {
		return nil, fmt.Errorf("%w: not a pgrunbook scan record of this version", errScanRecordCorrupt)
	}
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errScanRecordCorrupt)
	}
	rest := body[len(scanRecordMagic):]
	n := int(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if n > len(rest)-8 {
		return nil, fmt.Errorf("%w: header of %d bytes runs past the end", errScanRecordCorrupt, n)
	}
	var s scanRecord
	if err := json.Unmarshal(rest[:n], &s); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errScanRecordCorrupt, err)
	}
	rest = rest[n:]
	count := binary.LittleEndian.Uint64(rest)
	rest = rest[8:]
	if count != uint64(len(rest))/blockRecordSize || len(rest)%blockRecordSize != 0 {
		return nil, fmt.Errorf("%w: %d blocks announced, %d bytes of them", errScanRecordCorrupt, count, len(rest))
	}
	s.Blocks = make([]changedBlock, count)
	for i := range s.Blocks {
		p := rest[i*blockRecordSize:]
		s.Blocks[i] = changedBlock{
			rel: filemap.RelFileNode{
				Spc: binary.LittleEndian.Uint32(p[0:]),
				DB:  binary.LittleEndian.Uint32(p[4:]),
				Rel: binary.LittleEndian.Uint32(p[8:]),
			},
			blk: binary.LittleEndian.Uint32(p[12:]),
		}
	}
	return &s, nil
}

// writeScanRecord records what the scan of the target's WAL found, durably,
// before the marker says a rewind has begun.
func (r *run) writeScanRecord(blocks []changedBlock) error {
	if r.opts.DryRun {
		return nil
	}
	s := &scanRecord{
		SystemID:      r.tgtCF.SystemIdentifier,
		CheckPoint:    uint64(r.tgtCF.CheckPoint),
		Divergence:    uint64(r.divergence),
		DivergenceTLI: uint32(r.rep.Divergence.Timeline),
		TargetEnd:     uint64(r.targetEnd),
		CommonLSN:     uint64(r.ckpt.LSN),
		CommonRedo:    uint64(r.ckpt.Redo),
		CommonTLI:     uint32(r.ckpt.TLI),
		History:       r.tgtHist,
		KeepWAL:       r.keepWAL,
		Lost:          r.rep.Lost,
		Blocks:        blocks,
	}
	path := ScanRecordPath(r.opts.TargetDir)
	raw, err := s.marshal()
	if err != nil {
		return fmt.Errorf("write scan record %s: %w", path, err)
	}
	if err := writeDurably(path, raw); err != nil {
		return fmt.Errorf("write scan record %s: %w", path, err)
	}
	return nil
}

// loadScanRecord reads the record of the interrupted rewind this run
// resumes (a dry run too: it only reads). The interrupted rewind may have
// overwritten the target's WAL, so a record that is missing, damaged or
// not the target's own stops the rerun with what to do; it is never
// replaced by a new scan.
func (r *run) loadScanRecord() error {
	if r.marker == nil {
		return nil
	}
	path := ScanRecordPath(r.opts.TargetDir)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("resume interrupted rewind of %s: its scan record %s is missing, and the interrupted rewind may have overwritten the target's WAL it was made from; put the file back, or rebuild the node from a base backup",
			r.opts.TargetDir, path)
	}
	if err != nil {
		return fmt.Errorf("resume interrupted rewind of %s: read scan record: %w", r.opts.TargetDir, err)
	}
	s, err := parseScanRecord(raw)
	if err != nil {
		return fmt.Errorf("resume interrupted rewind of %s: scan record %s: %w; the interrupted rewind may have overwritten the target's WAL, so rebuild the node from a base backup",
			r.opts.TargetDir, path, err)
	}
	if s.SystemID != r.tgtCF.SystemIdentifier || s.CheckPoint != uint64(r.tgtCF.CheckPoint) {
		return fmt.Errorf("resume interrupted rewind of %s: scan record %s belongs to system %d at checkpoint %s, the target is system %d at checkpoint %s",
			r.opts.TargetDir, path, s.SystemID, lsn.LSN(s.CheckPoint), r.tgtCF.SystemIdentifier, r.tgtCF.CheckPoint)
	}
	r.record = s
	r.infof("using the scan record of the interrupted rewind (%d changed blocks)", len(s.Blocks))
	return nil
}

// resumeFromRecord sets what the scan of the target's WAL would have found
// from the record, once the divergence against the source is known again:
// the source must still part from the target where it did.
func (r *run) resumeFromRecord(div lsn.LSN) error {
	s := r.record
	if uint64(div) != s.Divergence {
		return fmt.Errorf("resume interrupted rewind of %s: the source now diverges from the target at %s, the interrupted rewind found %s; is it still the same new primary?",
			r.opts.TargetDir, div, lsn.LSN(s.Divergence))
	}
	r.targetEnd = lsn.LSN(s.TargetEnd)
	return nil
}

// commonCheckpointFromRecord is findCommonCheckpoint for a resumed rewind.
func (r *run) commonCheckpointFromRecord() {
	s := r.record
	r.ckpt = wal.Checkpoint{LSN: lsn.LSN(s.CommonLSN), Redo: lsn.LSN(s.CommonRedo), TLI: lsn.TimeLineID(s.CommonTLI)}
	r.keepWAL = s.KeepWAL
	r.infof("rewinding from last common checkpoint at %s on timeline %d (from the scan record)", r.ckpt.LSN, r.ckpt.TLI)
	r.rep.LastCommonCheckpoint = &CommonCheckpoint{LSN: r.ckpt.LSN.String(), Redo: r.ckpt.Redo.String(), Timeline: r.ckpt.TLI}
}

// removeScanRecord drops the record once the rewind no longer needs it.
func removeScanRecord(pgdata string) error {
	path := ScanRecordPath(pgdata)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove scan record %s: %w", path, err)
	}
	return nil
}

// writeDurably writes data to path so that a crash leaves either the old
// file or the new one: a temporary file, fsync, rename, fsync of the
// directory.
func writeDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
