package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

// TestParseControlRefusesUncheckedMajors checks that a control file of a
// major version whose layout is not verified is refused with pg_rewind's
// incompatibility message and the way out (`engine: pg_rewind`), while a
// PostgreSQL 15 one parses.
func TestParseControlRefusesUncheckedMajors(t *testing.T) {
	image := func(major int) []byte {
		l, ok := layout.Table(major)
		if !ok {
			t.Fatalf("no layout table for %d", major)
		}
		cf := &pgcontrol.ControlFile{
			Layout: l, ControlVersion: l.ControlVersion, CatalogVersion: l.CatalogVersion,
			WalSegSize: 16 << 20, BlockSize: 8192, WalBlockSize: 8192, RelSegSize: 131072,
			State: pgcontrol.ShutDown,
		}
		return cf.Marshal()
	}
	if _, err := parseControl(image(15), "target"); err != nil {
		t.Fatalf("PostgreSQL 15 control file: %v", err)
	}
	for _, major := range layout.Majors() {
		if l, _ := layout.Table(major); l.Checked {
			continue
		}
		_, err := parseControl(image(major), "target")
		if !errors.Is(err, layout.ErrUnchecked) || !errors.Is(err, ErrIncompatible) {
			t.Fatalf("major %d: got %v, want an unchecked-layout refusal", major, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, errIncompatible) || !strings.Contains(msg, "engine: pg_rewind") {
			t.Fatalf("major %d: message %q should start with %q and name engine: pg_rewind", major, msg, errIncompatible)
		}
	}
}
