package filemap

import (
	"bufio"
	"fmt"
	"io"
)

// WriteDebug prints the decided map the way pg_rewind --debug does: one
// "<path> (<ACTION>)" line for every entry that does something or has
// changed blocks, each followed by its "block N" lines. The caller adds
// any log prefix per line. Decide must have run.
func (m *Map) WriteDebug(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, e := range m.decided {
		if e.Action == ActionNone && e.Blocks.Len() == 0 {
			continue
		}
		fmt.Fprintf(bw, "%s (%s)\n", e.Path, e.Action)
		for _, b := range e.Blocks.Blocks() {
			fmt.Fprintf(bw, "block %d\n", b)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write file map debug dump: %w", err)
	}
	return nil
}
