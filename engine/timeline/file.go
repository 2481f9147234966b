package timeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ReadDir returns the history of timeline tli from the pg_wal directory
// walDir. Timeline 1 has no history file and gets Single(1), as in
// pg_rewind; any other timeline needs its <tli>.history file.
func ReadDir(walDir string, tli lsn.TimeLineID) (History, error) {
	if tli == 1 {
		return Single(1), nil
	}
	name := lsn.HistoryFileName(tli)
	path := filepath.Join(walDir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("could not open file \"%s\": %w", path, err)
	}
	return Parse(path, b, tli)
}
