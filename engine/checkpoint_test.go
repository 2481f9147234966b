package engine

import (
	"reflect"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// TestRequiredSegments checks the keep-WAL rule that goes beyond
// pg_rewind's: every target segment from the common checkpoint's redo
// point through the divergence survives, not only those the backward
// walk happened to open, and each is named by the timeline that wrote it.
func TestRequiredSegments(t *testing.T) {
	const seg = 16 << 20
	at := func(s string) lsn.LSN {
		p, err := lsn.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tli2 := timeline.History{{TLI: 1, Begin: 0, End: at("0/5000100")}, {TLI: 2, Begin: at("0/5000100"), End: 0}}
	tests := []struct {
		name      string
		hist      timeline.History
		redo, div lsn.LSN
		walked    []string
		wantKeep  []string
	}{
		{"redo two segments before the checkpoint", timeline.Single(1), at("0/2000028"), at("0/4000100"),
			[]string{"000000010000000000000004", "000000010000000000000003"},
			[]string{"000000010000000000000004", "000000010000000000000003", "000000010000000000000002"}},
		{"divergence on a later timeline of the target", tli2, at("0/4FFFF00"), at("0/6000200"),
			[]string{"000000020000000000000006"},
			[]string{"000000020000000000000006", "000000010000000000000004", "000000020000000000000005"}},
		{"one segment", timeline.Single(1), at("0/3000028"), at("0/30001A8"),
			[]string{"000000010000000000000003"},
			[]string{"000000010000000000000003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{
				tgtCF:      &pgcontrol.ControlFile{WalSegSize: seg},
				tgtHist:    tt.hist,
				divergence: tt.div,
				ckpt:       wal.Checkpoint{Redo: tt.redo},
			}
			if got := r.requiredSegments(tt.walked); !reflect.DeepEqual(got, tt.wantKeep) {
				t.Fatalf("got %v, want %v", got, tt.wantKeep)
			}
		})
	}
}
