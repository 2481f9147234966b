package rewindtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// CheckQuery runs sql on the (rewound) primary and compares the rows,
// printed as psql -At prints them (one line per row, columns joined by |),
// with want exactly (check_query).
func (s *Scenario) CheckQuery(sql string, want ...string) {
	s.T.Helper()
	CheckQuery(s.T, s.Ctx, s.Primary, sql, want...)
}

// CheckQuery runs sql on c and compares its rows, printed as psql -At
// prints them, with want exactly.
func CheckQuery(t *testing.T, ctx context.Context, c *pgcluster.Cluster, sql string, want ...string) {
	t.Helper()
	rows, err := c.Query(ctx, "postgres", sql)
	if err != nil {
		t.Fatalf("check query %q on %s: %v", sql, c.Name, err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = strings.Join(r, "|")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Fatalf("query %q on %s:\ngot:\n%s\nwant:\n%s", sql, c.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// CheckModes walks a data directory and reports every directory whose mode
// is not dirMode and every regular file whose mode is not fileMode
// (upstream's check_mode_recursive). Symlinks are not followed.
func CheckModes(dataDir string, dirMode, fileMode os.FileMode) ([]string, error) {
	var bad []string
	err := filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case info.IsDir() && info.Mode().Perm() != dirMode:
			bad = append(bad, fmt.Sprintf("%s: %v, want %v", p, info.Mode().Perm(), dirMode))
		case info.Mode().IsRegular() && info.Mode().Perm() != fileMode:
			bad = append(bad, fmt.Sprintf("%s: %v, want %v", p, info.Mode().Perm(), fileMode))
		}
		return nil
	})
	return bad, err
}
