package lsn

import "testing"

func TestSegmentName(t *testing.T) {
	tests := []struct {
		tli     TimeLineID
		seg     SegNo
		segSize uint32
		want    string
	}{
		{1, 1, 16 << 20, "000000010000000000000001"},
		{1, 8, 16 << 20, "000000010000000000000008"},
		{2, 0x1FF, 16 << 20, "0000000200000001000000FF"},
		{0x1A, 0x300, 16 << 20, "0000001A0000000300000000"},
		{1, 4096, 1 << 20, "000000010000000100000000"},
		{3, 5, 1 << 30, "000000030000000100000001"},
	}
	for _, tt := range tests {
		got := SegmentName(tt.tli, tt.seg, tt.segSize)
		if got != tt.want {
			t.Errorf("SegmentName(%d, %d, %d) = %q, want %q", tt.tli, tt.seg, tt.segSize, got, tt.want)
			continue
		}
		tli, seg, err := ParseSegmentName(got, tt.segSize)
		if err != nil || tli != tt.tli || seg != tt.seg {
			t.Errorf("ParseSegmentName(%q) = %d, %d, %v; want %d, %d", got, tli, seg, err, tt.tli, tt.seg)
		}
	}
}

func TestParseSegmentNameErrors(t *testing.T) {
	bad := []string{
		"",
		"00000001000000000000000",
		"0000000100000000000000080",
		"000000010000000000000008.partial",
		"00000001000000000000000a",
		"000000000000000000000008",
		"000000010000000000000100", // low part 0x100 is out of range for 16 MiB
		"0000000G0000000000000008",
	}
	for _, name := range bad {
		if _, _, err := ParseSegmentName(name, 16<<20); err == nil {
			t.Errorf("ParseSegmentName(%q) succeeded, want error", name)
		}
	}
}

func TestSegmentArithmetic(t *testing.T) {
	const segSize = 16 << 20
	p := LSN(0x3002EB0)
	if got := p.Segment(segSize); got != 3 {
		t.Errorf("Segment = %d, want 3", got)
	}
	if got := p.SegmentOffset(segSize); got != 0x2EB0 {
		t.Errorf("SegmentOffset = %#x, want 0x2eb0", got)
	}
	if got := SegNo(3).Start(segSize); got != 0x3000000 {
		t.Errorf("Start = %v, want 0/3000000", got)
	}
}

func TestValidSegmentSize(t *testing.T) {
	tests := []struct {
		size uint32
		want bool
	}{
		{1 << 19, false}, {1 << 20, true}, {16 << 20, true}, {1 << 30, true}, {1 << 31, false}, {3 << 20, false}, {0, false},
	}
	for _, tt := range tests {
		if got := ValidSegmentSize(tt.size); got != tt.want {
			t.Errorf("ValidSegmentSize(%d) = %v, want %v", tt.size, got, tt.want)
		}
	}
}

func TestHistoryFileName(t *testing.T) {
	if got := HistoryFileName(2); got != "00000002.history" {
		t.Errorf("HistoryFileName(2) = %q", got)
	}
	if got := HistoryFileName(0x1A); got != "0000001A.history" {
		t.Errorf("HistoryFileName(0x1A) = %q", got)
	}
}
