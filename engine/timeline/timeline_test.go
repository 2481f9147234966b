package timeline

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		content string
		tli     lsn.TimeLineID
		want    History
	}{
		{
			name:    "as written by the server",
			content: "1\t0/3002EB0\tno recovery target specified\n",
			tli:     2,
			want:    History{{1, 0, 0x3002EB0}, {2, 0x3002EB0, 0}},
		},
		{
			name:    "three generations with comments and blanks",
			content: "# comment\n\n1\t0/3002EB0\tno recovery target specified\n  \n  2\t0/5000000\tat restore point \"x\"\n",
			tli:     3,
			want:    History{{1, 0, 0x3002EB0}, {2, 0x3002EB0, 0x5000000}, {3, 0x5000000, 0}},
		},
		{
			name:    "PostgreSQL 18 zero-padded LSNs",
			content: "1\t0/03002EB0\tno recovery target specified\n4\t1/0000A000\tbefore 2000-01-01\n",
			tli:     5,
			want:    History{{1, 0, 0x3002EB0}, {4, 0x3002EB0, 0x10000A000}, {5, 0x10000A000, 0}},
		},
		{
			name:    "no reason, spaces",
			content: "1 0/10",
			tli:     2,
			want:    History{{1, 0, 0x10}, {2, 0x10, 0}},
		},
		{
			name: "empty file",
			tli:  2,
			want: History{{2, 0, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("x.history", []byte(tt.content), tt.tli)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		tli     lsn.TimeLineID
		want    string
	}{
		{"no number", "x\t0/1\treason\n", 2, "00000002.history:1: syntax error in history file: \"x\\t0/1\\treason\": expected a numeric timeline ID"},
		{"no switchpoint", "# c\n1\n", 2, "00000002.history:2: syntax error in history file: \"1\": expected a WAL switchpoint location"},
		{"bad switchpoint", "1\t0-1\n", 2, ":1: syntax error in history file"},
		{"switchpoint too long", "1\t0/123456789\n", 2, "expected a WAL switchpoint location"},
		{"decreasing", "2\t0/1\n1\t0/2\n", 3, ":2: invalid data in history file: \"1\\t0/2\": timeline IDs must be in increasing sequence"},
		{"repeated", "1\t0/1\n1\t0/2\n", 3, "increasing sequence"},
		{"not below own", "1\t0/1\n2\t0/2\n", 2, "must be less than child timeline's ID 2"},
		{"timeline zero", "0\t0/1\n", 2, "timeline 0 is invalid"},
		{"negative", "-1\t0/1\n", 2, "expected a numeric timeline ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("00000002.history", []byte(tt.content), tt.tli)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func mustParse(t *testing.T, content string, tli lsn.TimeLineID) History {
	t.Helper()
	h, err := Parse("test.history", []byte(content), tli)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFindDivergence(t *testing.T) {
	tl1 := Single(1)
	tl2 := mustParse(t, "1\t0/3002EB0\tno recovery target specified\n", 2)
	tl3 := mustParse(t, "1\t0/3002EB0\tx\n2\t0/5000000\ty\n", 3)
	// Another promotion of the timeline-1 cluster, at a different point,
	// that also picked timeline 2.
	tl2other := mustParse(t, "1\t0/4000000\tx\n", 2)
	// A sibling of tl3 forked from timeline 2 later.
	tl3sibling := mustParse(t, "1\t0/3002EB0\tx\n2\t0/6000000\ty\n", 3)
	tl4fromtl2 := mustParse(t, "1\t0/3002EB0\tx\n2\t0/5800000\ty\n", 4)

	tests := []struct {
		name           string
		source, target History
		wantLSN        lsn.LSN
		wantIdx        int
	}{
		{"promoted source, old primary target", tl2, tl1, 0x3002EB0, 0},
		{"old-timeline source, promoted target", tl1, tl2, 0x3002EB0, 0},
		{"same timeline 1", tl1, tl1, 0, 0},
		{"same timeline 2", tl2, tl2, 0, 1},
		{"source two generations ahead", tl3, tl1, 0x3002EB0, 0},
		{"target one generation behind", tl3, tl2, 0x5000000, 1},
		{"target one generation ahead", tl2, tl3, 0x5000000, 1},
		{"same TLI number, different begin", tl2other, tl2, 0x3002EB0, 0},
		{"same TLI number, different begin reversed", tl2, tl2other, 0x3002EB0, 0},
		{"siblings forked from tl2 at different points", tl3sibling, tl3, 0x5000000, 1},
		{"tl4 against tl3", tl4fromtl2, tl3, 0x5000000, 1},
		{"tl3 against tl4", tl3, tl4fromtl2, 0x5000000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, idx, err := FindDivergence(tt.source, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantLSN || idx != tt.wantIdx {
				t.Errorf("FindDivergence = %v, %d; want %v, %d", got, idx, tt.wantLSN, tt.wantIdx)
			}
		})
	}
}

func TestFindDivergenceNoCommonAncestor(t *testing.T) {
	_, _, err := FindDivergence(Single(1), Single(2))
	if !errors.Is(err, ErrNoCommonAncestor) {
		t.Errorf("error %v, want ErrNoCommonAncestor", err)
	}
	_, _, err = FindDivergence(nil, Single(1))
	if !errors.Is(err, ErrNoCommonAncestor) {
		t.Errorf("empty source: error %v", err)
	}
}

func TestTLIForSegment(t *testing.T) {
	const seg = 16 << 20
	h := mustParse(t, "1\t0/3002EB0\tx\n2\t0/5000000\ty\n", 3)
	tests := []struct {
		seg     lsn.SegNo
		wantTLI lsn.TimeLineID
		wantIdx int
	}{
		{1, 1, 0},
		{2, 1, 0},
		{3, 2, 1}, // holds the 1→2 switch point: read from timeline 2's file
		{4, 2, 1}, // ends exactly at the 2→3 switch point: timeline 2 wrote all of it
		{5, 3, 2},
		{900, 3, 2},
	}
	for _, tt := range tests {
		tli, idx := h.TLIForSegment(tt.seg, seg)
		if tli != tt.wantTLI || idx != tt.wantIdx {
			t.Errorf("TLIForSegment(%d) = %d, %d; want %d, %d", tt.seg, tli, idx, tt.wantTLI, tt.wantIdx)
		}
	}
}

func TestTimelineOf(t *testing.T) {
	h := mustParse(t, "1\t0/3002EB0\tx\n2\t0/5000000\ty\n", 3)
	tests := []struct {
		p    lsn.LSN
		want lsn.TimeLineID
	}{
		{0, 1}, {0x3002EAF, 1}, {0x3002EB0, 2}, {0x4FFFFFF, 2}, {0x5000000, 3}, {0xFFFFFFFFFF, 3},
	}
	for _, tt := range tests {
		got, ok := h.TimelineOf(tt.p)
		if !ok || got != tt.want {
			t.Errorf("TimelineOf(%v) = %d, %v; want %d", tt.p, got, ok, tt.want)
		}
	}
	if h.TLI() != 3 {
		t.Errorf("TLI() = %d", h.TLI())
	}
	if s := h[1].String(); s != "2: 0/3002EB0 - 0/5000000" {
		t.Errorf("String() = %q", s)
	}
}

func FuzzParseHistory(f *testing.F) {
	f.Add([]byte("1\t0/3002EB0\tno recovery target specified\n"), uint32(2))
	f.Add([]byte("# c\n1\t0/3002EB0\tx\n2\t0/05000000\ty\n"), uint32(3))
	f.Add([]byte("x"), uint32(1))
	f.Fuzz(func(t *testing.T, content []byte, tli uint32) {
		h, err := Parse("fuzz.history", content, lsn.TimeLineID(tli))
		if err != nil {
			return
		}
		if len(h) == 0 || h.TLI() != lsn.TimeLineID(tli) || h[len(h)-1].End != 0 {
			t.Fatalf("bad tip: %v", h)
		}
		for i := 1; i < len(h); i++ {
			if h[i].TLI <= h[i-1].TLI || h[i].Begin != h[i-1].End {
				t.Fatalf("entries %d and %d do not chain: %v", i-1, i, h)
			}
		}
		if _, idx, err := FindDivergence(h, h); err != nil || idx != len(h)-1 {
			t.Fatalf("FindDivergence(h, h) = %d, %v", idx, err)
		}
	})
}
