package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// StageReport is what a WAL staging found and did, written by `pgrunbook
// wal-stage --report` as one JSON object.
type StageReport struct {
	// Divergence is where the timelines parted; nil on the same timeline.
	Divergence *Divergence `json:"divergence,omitempty"`
	// LastCommonCheckpoint is where the rewind's replay will start; nil
	// when no rewind is needed or under CheckOnly.
	LastCommonCheckpoint *CommonCheckpoint `json:"last_common_checkpoint,omitempty"`
	// TargetEnd is the end of the target's WAL ("" when unknown).
	TargetEnd string `json:"target_end,omitempty"`
	// RewindNeeded is false when the target can follow the source as it is.
	RewindNeeded bool `json:"rewind_needed"`
	// DryRun and CheckOnly echo the options: nothing was written.
	DryRun    bool `json:"dry_run"`
	CheckOnly bool `json:"check_only"`
	// Needed is the WAL range and the segment files the rewind reads.
	Needed NeededWAL `json:"needed"`
	// Staged are the files copied into pg_wal (under DryRun: that would be).
	Staged []StagedFile `json:"staged"`
	// Present are the needed files pg_wal already had.
	Present []string `json:"present"`
	// BytesStaged is the sum of Staged's sizes.
	BytesStaged int64 `json:"bytes_staged"`
	// DurationMS is the wall time of the staging.
	DurationMS int64 `json:"duration_ms"`
}

// NeededWAL is the target WAL a rewind needs: from the last common
// checkpoint's redo point to the target's end of WAL.
type NeededWAL struct {
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Segments []string `json:"segments"`
}

// StagedFile is one file copied from the archive into pg_wal.
type StagedFile struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	// From is the archive file's path, or "restore_command".
	From string `json:"from"`
}

// finish fills the report from the run's findings.
func (rep *StageReport) finish(r *run, s *stager) {
	rep.Divergence = r.rep.Divergence
	rep.LastCommonCheckpoint = r.rep.LastCommonCheckpoint
	if r.targetEnd != 0 {
		rep.TargetEnd = r.targetEnd.String()
		rep.Needed.To = rep.TargetEnd
	}
	if rep.LastCommonCheckpoint != nil {
		rep.Needed.From = rep.LastCommonCheckpoint.Redo
	}
	sort.SliceStable(rep.Staged, func(i, j int) bool {
		return segmentLess(rep.Staged[i].Name, rep.Staged[j].Name, s.segSize)
	})
	names := append([]string(nil), s.askedOrder...)
	sortSegments(names, s.segSize)
	rep.Needed.Segments = names
	if rep.Needed.Segments == nil {
		rep.Needed.Segments = []string{}
	}
	for _, n := range names {
		if !s.staged[n] {
			rep.Present = append(rep.Present, n)
		}
	}
}

// sortSegments orders segment names by position in the WAL, then timeline.
func sortSegments(names []string, segSize uint32) {
	sort.SliceStable(names, func(i, j int) bool { return segmentLess(names[i], names[j], segSize) })
}

// segmentLess orders two WAL file names by position, then timeline; other
// names (history files) come first, by name.
func segmentLess(a, b string, segSize uint32) bool {
	ta, sa, erra := lsn.ParseSegmentName(a, segSize)
	tb, sb, errb := lsn.ParseSegmentName(b, segSize)
	switch {
	case erra != nil || errb != nil:
		if (erra == nil) != (errb == nil) {
			return erra != nil
		}
		return a < b
	case sa != sb:
		return sa < sb
	}
	return ta < tb
}

// WriteFile writes the report as one JSON object to path.
func (rep *StageReport) WriteFile(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode WAL staging report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write WAL staging report %s: %w", path, err)
	}
	return nil
}
