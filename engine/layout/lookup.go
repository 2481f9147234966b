package layout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// For returns the layout of a checked major version. It refuses a major
// without a table (ErrUnknownMajor) and one whose table is unchecked
// (*UncheckedError, matching ErrUnchecked).
func For(major int) (*Layout, error) {
	l, ok := Table(major)
	if !ok {
		return nil, fmt.Errorf("layout for PostgreSQL %d: %w (known: %s)", major, ErrUnknownMajor, knownMajors())
	}
	if !l.Checked {
		return nil, &UncheckedError{Major: major}
	}
	return l, nil
}

// Table returns the layout of any known major version, checked or not. It is
// for reporting and tests; a rewind must go through For.
func Table(major int) (*Layout, bool) {
	l, ok := tables[major]
	if !ok {
		return nil, false
	}
	// A copy, so that no caller can change the shared table.
	l.Special.DbaseCreate = slices.Clone(l.Special.DbaseCreate)
	return &l, true
}

// Majors returns every major version with a table, in ascending order.
func Majors() []int {
	out := make([]int, 0, len(tables))
	for m := range tables {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// FromControlVersion picks the layout from the pg_control_version and
// catalog_version_no stored in a control file. Both must match one table
// exactly; several majors share pg_control_version 1300, so the catalog
// version decides.
func FromControlVersion(controlVersion, catalogVersion uint32) (*Layout, error) {
	for _, m := range Majors() {
		l := tables[m]
		if l.ControlVersion == controlVersion && l.CatalogVersion == catalogVersion {
			return For(m)
		}
	}
	return nil, fmt.Errorf("layout for pg_control version %d, catalog version %d: %w (known: %s)",
		controlVersion, catalogVersion, ErrUnknownMajor, knownMajors())
}

// FromPGVersion picks the layout from the contents of a PG_VERSION file,
// such as "15\n". Pre-10 versions ("9.5") are reported as unknown.
func FromPGVersion(text string) (*Layout, error) {
	s := strings.TrimSpace(text)
	major, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("layout for PG_VERSION %q: %w (known: %s)", s, ErrUnknownMajor, knownMajors())
	}
	return For(major)
}

func knownMajors() string {
	var parts []string
	for _, m := range Majors() {
		parts = append(parts, strconv.Itoa(m))
	}
	return strings.Join(parts, ", ")
}
