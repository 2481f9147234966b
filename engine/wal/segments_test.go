package wal

import (
	"slices"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

func TestSegmentNames(t *testing.T) {
	h, err := timeline.Parse("00000002.history", []byte("1\t0/3002EB0\tx\n"), 2)
	if err != nil {
		t.Fatal(err)
	}
	const seg = 16 << 20
	tests := []struct {
		from, to lsn.LSN
		want     []string
	}{
		{0x1000028, 0x1000100, []string{"000000010000000000000001"}},
		{0x1FFFFF0, 0x3000000, []string{"000000010000000000000001", "000000010000000000000002"}},
		{0x2000000, 0x3002EB1, []string{"000000010000000000000002", "000000020000000000000003"}},
		{0x3000000, 0x3000000, nil},
	}
	for _, tt := range tests {
		if got := SegmentNames(h, tt.from, tt.to, seg); !slices.Equal(got, tt.want) {
			t.Errorf("SegmentNames(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
