package layout

import (
	"errors"
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	tests := []struct {
		major     int
		wantErr   error
		wantMagic uint16
	}{
		{major: 15, wantMagic: 0xD110},
		{major: 12, wantErr: ErrUnchecked},
		{major: 13, wantErr: ErrUnchecked},
		{major: 14, wantErr: ErrUnchecked},
		{major: 16, wantErr: ErrUnchecked},
		{major: 17, wantErr: ErrUnchecked},
		{major: 11, wantErr: ErrUnknownMajor},
		{major: 18, wantErr: ErrUnknownMajor},
		{major: 0, wantErr: ErrUnknownMajor},
	}
	for _, tt := range tests {
		l, err := For(tt.major)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || l != nil {
				t.Errorf("For(%d) = %v, %v; want error %v", tt.major, l, err, tt.wantErr)
			}
			continue
		}
		if err != nil || l.PageMagic != tt.wantMagic || l.Major != tt.major {
			t.Errorf("For(%d) = %+v, %v", tt.major, l, err)
		}
	}
}

func TestUncheckedMessage(t *testing.T) {
	_, err := For(16)
	msg := err.Error()
	for _, want := range []string{"PostgreSQL 16", "has not been checked", "engine: pg_rewind"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	var ue *UncheckedError
	if !errors.As(err, &ue) || ue.Major != 16 {
		t.Errorf("errors.As(%v) = %v", err, ue)
	}
}

func TestFromControlVersion(t *testing.T) {
	tests := []struct {
		control, catalog uint32
		wantMajor        int
		wantErr          error
	}{
		{1300, 202209061, 15, nil},
		{1300, 202307071, 0, ErrUnchecked},
		{1700, 202406281, 0, ErrUnchecked},
		{1300, 202209062, 0, ErrUnknownMajor},
		{1201, 202209061, 0, ErrUnknownMajor},
		{942, 201510051, 0, ErrUnknownMajor},
	}
	for _, tt := range tests {
		l, err := FromControlVersion(tt.control, tt.catalog)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FromControlVersion(%d, %d) error = %v, want %v", tt.control, tt.catalog, err, tt.wantErr)
			}
			continue
		}
		if err != nil || l.Major != tt.wantMajor {
			t.Errorf("FromControlVersion(%d, %d) = %v, %v; want major %d", tt.control, tt.catalog, l, err, tt.wantMajor)
		}
	}
}

func TestFromPGVersion(t *testing.T) {
	tests := []struct {
		text      string
		wantMajor int
		wantErr   error
	}{
		{"15\n", 15, nil},
		{"15", 15, nil},
		{"16\n", 0, ErrUnchecked},
		{"9.5\n", 0, ErrUnknownMajor},
		{"", 0, ErrUnknownMajor},
		{"abc", 0, ErrUnknownMajor},
	}
	for _, tt := range tests {
		l, err := FromPGVersion(tt.text)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FromPGVersion(%q) error = %v, want %v", tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil || l.Major != tt.wantMajor {
			t.Errorf("FromPGVersion(%q) = %v, %v", tt.text, l, err)
		}
	}
}

// TestTablesConsistent checks invariants every table must satisfy, so that
// a typo in an unchecked table is still caught.
func TestTablesConsistent(t *testing.T) {
	for _, m := range Majors() {
		l, _ := Table(m)
		c := l.Control
		if c.CRC+4 > c.Size || c.Size > FileSize {
			t.Errorf("%d: CRC at %d, size %d", m, c.CRC, c.Size)
		}
		if c.CheckPointCopy+l.CheckPoint.Size != c.UnloggedLSN {
			t.Errorf("%d: CheckPoint copy [%d,+%d) does not end at unloggedLSN %d", m, c.CheckPointCopy, l.CheckPoint.Size, c.UnloggedLSN)
		}
		if c.MockAuthNonce+MockAuthNonceLen > c.CRC {
			t.Errorf("%d: nonce overlaps CRC", m)
		}
		if l.Image.Known()&l.Image.HasHole == 0 || l.Image.Apply&l.Image.Compressed != 0 {
			t.Errorf("%d: image bits overlap: %+v", m, l.Image)
		}
		if (m >= 14) != l.HasTopLevelXID {
			t.Errorf("%d: HasTopLevelXID = %v", m, l.HasTopLevelXID)
		}
		if (m >= 16) != (l.Timeline == TimelineMaxWithMinRecovery) {
			t.Errorf("%d: timeline rule %v", m, l.Timeline)
		}
	}
}

func TestSpecialIgnored(t *testing.T) {
	l15, _ := Table(15)
	l14, _ := Table(14)
	tests := []struct {
		name       string
		l          *Layout
		rmid, info uint8
		want       bool
	}{
		{"15 dbase create file copy", l15, RmgrDBASE, 0x00, true},
		{"15 dbase create wal log", l15, RmgrDBASE, 0x10, true},
		{"15 dbase drop", l15, RmgrDBASE, 0x20, true},
		{"15 dbase unknown", l15, RmgrDBASE, 0x30, false},
		{"14 dbase drop", l14, RmgrDBASE, 0x10, true},
		{"14 dbase 0x20", l14, RmgrDBASE, 0x20, false},
		{"smgr create", l15, RmgrSMGR, 0x10 | 0x01, true},
		{"smgr truncate", l15, RmgrSMGR, 0x20, true},
		{"xact commit with has-info", l15, RmgrXACT, 0x80 | 0x01, true},
		{"xact abort prepared", l15, RmgrXACT, 0x40, true},
		{"xact prepare", l15, RmgrXACT, 0x10, false},
		{"heap", l15, 10, 0x00, false},
	}
	for _, tt := range tests {
		if got := tt.l.Special.Ignored(tt.rmid, tt.info); got != tt.want {
			t.Errorf("%s: Ignored(%d, %#x) = %v, want %v", tt.name, tt.rmid, tt.info, got, tt.want)
		}
	}
}

func TestTimelineRule(t *testing.T) {
	if got := TimelineFromCheckpoint.Of(1, 2); got != 1 {
		t.Errorf("15 rule = %d, want 1", got)
	}
	if got := TimelineMaxWithMinRecovery.Of(1, 2); got != 2 {
		t.Errorf("16 rule = %d, want 2", got)
	}
	if got := TimelineMaxWithMinRecovery.Of(3, 0); got != 3 {
		t.Errorf("16 rule = %d, want 3", got)
	}
}

func TestTableIsCopy(t *testing.T) {
	a, _ := Table(15)
	a.Special.DbaseCreate[0] = 0x70
	a.PageMagic = 1
	b, _ := Table(15)
	if b.Special.DbaseCreate[0] != 0 || b.PageMagic != 0xD110 {
		t.Errorf("Table returned shared state")
	}
}
