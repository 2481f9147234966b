package filemap

import "fmt"

// ActionTotal counts the files with one action and the bytes their
// fetches move (changed blocks included).
type ActionTotal struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Summary is the size of the work, as pg_rewind's progress report counts it
// and as the rewind report shows it.
type Summary struct {
	// TotalSourceBytes is the size of every regular file of the source.
	TotalSourceBytes int64 `json:"total_source_bytes"`
	// FetchBytes is what will be fetched: whole COPY files, COPY_TAIL
	// tails and one block per changed block.
	FetchBytes int64 `json:"fetch_bytes"`
	// BlockBytes is the part of FetchBytes due to changed blocks.
	BlockBytes int64 `json:"block_bytes"`
	// Actions totals per action name; entries whose action is NONE and
	// that have no changed block are counted under NONE with zero bytes.
	Actions map[Action]ActionTotal `json:"actions"`
	// Skipped totals, per reason, the files a trimming map leaves
	// unfetched and the bytes pg_rewind would have fetched of them.
	Skipped map[SkipReason]ActionTotal `json:"skipped,omitempty"`
}

// SkippedTotal adds up Skipped over all reasons.
func (s Summary) SkippedTotal() ActionTotal {
	var t ActionTotal
	for _, r := range s.Skipped {
		t.Files += r.Files
		t.Bytes += r.Bytes
	}
	return t
}

// SkipLine is the -P line that says what trimming saved, in whole MiB
// rounded down like ProgressLine.
func (s Summary) SkipLine() string {
	t := s.SkippedTotal()
	return fmt.Sprintf("skipped %d files, %d MB recovery never reads", t.Files, t.Bytes/(1024*1024))
}

// Summary totals the decided map. Decide must have run.
func (m *Map) Summary() Summary {
	s := Summary{Actions: make(map[Action]ActionTotal), Skipped: make(map[SkipReason]ActionTotal)}
	for _, e := range m.decided {
		if e.Skipped != SkipNone {
			k := s.Skipped[e.Skipped]
			k.Files++
			k.Bytes += e.SkippedBytes
			s.Skipped[e.Skipped] = k
		}
		t := s.Actions[e.Action]
		t.Files++
		if e.Source.Type == TypeRegular && e.Source.Exists {
			s.TotalSourceBytes += e.Source.Size
			var n int64
			switch e.Action {
			case ActionCopy:
				n = e.Source.Size
			case ActionCopyTail:
				n = e.Source.Size - e.Target.Size
			}
			if e.Action != ActionCopy {
				b := int64(e.Blocks.Len()) * m.cfg.BlockSize
				s.BlockBytes += b
				n += b
			}
			s.FetchBytes += n
			t.Bytes += n
		}
		s.Actions[e.Action] = t
	}
	return s
}

// ProgressLine is pg_rewind's -P announcement, in whole MiB rounded down.
func (s Summary) ProgressLine() string {
	return fmt.Sprintf("need to copy %d MB (total source directory size is %d MB)",
		s.FetchBytes/(1024*1024), s.TotalSourceBytes/(1024*1024))
}
