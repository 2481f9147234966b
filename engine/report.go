package engine

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Report is what a rewind did, in the JSON shape DESIGN.md fixes for
// `pgrunbook rewind --report` and the rewind step. Keys may be added, never
// renamed.
type Report struct {
	// Divergence is where the timelines parted; nil when both clusters
	// are on the same timeline.
	Divergence *Divergence `json:"divergence,omitempty"`
	// LastCommonCheckpoint is where replay of the rewound target starts;
	// nil when no rewind was needed.
	LastCommonCheckpoint *CommonCheckpoint `json:"last_common_checkpoint,omitempty"`
	// RewindNeeded is false when the target was already a valid ancestor
	// of the source.
	RewindNeeded bool `json:"rewind_needed"`
	// DryRun is true when nothing was written.
	DryRun bool `json:"dry_run"`
	// Actions counts files and fetched bytes per file map action
	// ("COPY", "REMOVE", ...).
	Actions map[string]filemap.ActionTotal `json:"actions"`
	// BytesFetched is what was actually read from the source.
	BytesFetched int64 `json:"bytes_fetched"`
	// BytesTransferred is what crossed the network for file data: the
	// compressed stream for "stream", BytesFetched for "sql", zero for
	// "local".
	BytesTransferred int64 `json:"bytes_transferred"`
	// Transfer is how file data comes: "sql", "stream" or "local".
	Transfer string `json:"transfer"`
	// BytesSkipped counts, per reason, the bytes of source files the
	// rewind did not fetch because recovery never reads them (what
	// pg_rewind 15 would have fetched of them); FilesSkipped counts the
	// files. Both are zero with Faithful.
	BytesSkipped SkipCounts `json:"bytes_skipped"`
	FilesSkipped SkipCounts `json:"files_skipped"`
	// DurationMS is the wall time of the whole rewind.
	DurationMS int64 `json:"duration_ms"`
	// Lost is what the target wrote after the divergence, which the
	// rewind throws away.
	Lost *Lost `json:"lost,omitempty"`
	// KeptConfig lists the configuration files left as the target had
	// them (--keep-config, --keep-file); absent when none was asked for.
	KeptConfig []KeptConfigFile `json:"kept_config,omitempty"`
}

// Divergence is the point where the source's and the target's histories
// part: the first WAL position that is not common.
type Divergence struct {
	// LSN is printed as PostgreSQL prints it, e.g. "0/3002EB0".
	LSN      string         `json:"lsn"`
	Timeline lsn.TimeLineID `json:"timeline"`
}

// CommonCheckpoint is the last checkpoint both clusters share.
type CommonCheckpoint struct {
	// LSN and Redo are printed as PostgreSQL prints them.
	LSN      string         `json:"lsn"`
	Redo     string         `json:"redo"`
	Timeline lsn.TimeLineID `json:"timeline"`
}

// Lost describes the target's WAL after the divergence.
type Lost struct {
	// WALBytes is the distance from the divergence to the target's end of
	// WAL.
	WALBytes int64 `json:"wal_bytes"`
	// Commits are the transactions the target committed after the
	// divergence.
	Commits []LostCommit `json:"commits"`
	// Relations are the relation files whose blocks the target changed
	// after the divergence.
	Relations []LostRelation `json:"relations"`
}

// LostCommit is one transaction committed only on the target.
type LostCommit struct {
	XID uint32 `json:"xid"`
	// Time is the commit time in RFC 3339 form.
	Time string `json:"time"`
}

// LostRelation is a relation the target changed after the divergence, with
// the number of distinct blocks changed.
type LostRelation struct {
	SpcNode uint32 `json:"spcnode"`
	DBNode  uint32 `json:"dbnode"`
	RelNode uint32 `json:"relnode"`
	Blocks  int    `json:"blocks"`
}

// WriteFile writes the report as one JSON object to path.
func (rep *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode rewind report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write rewind report %s: %w", path, err)
	}
	return nil
}
