package timeline

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Parse reads the content of the history file of timeline tli; name is used
// in error messages only. Lines hold "<parent TLI> <switch LSN> <reason>";
// blank lines and lines starting with '#' are skipped, and the reason is
// ignored. LSNs may be written "%X/%X" or PostgreSQL 18's "%X/%08X". The
// result has one entry per line plus a last entry for tli itself that
// begins at the last switch point and stays open.
func Parse(name string, content []byte, tli lsn.TimeLineID) (History, error) {
	var h History
	var prevEnd lsn.LSN
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t\r\v\f")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		fields := strings.Fields(trimmed)
		parent, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: syntax error in history file: %q: expected a numeric timeline ID", name, lineNo, line)
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: syntax error in history file: %q: expected a WAL switchpoint location", name, lineNo, line)
		}
		end, err := lsn.Parse(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: syntax error in history file: %q: expected a WAL switchpoint location: %w", name, lineNo, line, err)
		}
		if len(h) > 0 && lsn.TimeLineID(parent) <= h[len(h)-1].TLI {
			return nil, fmt.Errorf("%s:%d: invalid data in history file: %q: timeline IDs must be in increasing sequence", name, lineNo, line)
		}
		if parent == 0 {
			return nil, fmt.Errorf("%s:%d: invalid data in history file: %q: timeline 0 is invalid", name, lineNo, line)
		}
		h = append(h, Entry{TLI: lsn.TimeLineID(parent), Begin: prevEnd, End: end})
		prevEnd = end
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read history file %s: %w", name, err)
	}
	if len(h) > 0 && h[len(h)-1].TLI >= tli {
		return nil, fmt.Errorf("%s: invalid data in history file: timeline IDs must be less than child timeline's ID %d", name, tli)
	}
	return append(h, Entry{TLI: tli, Begin: prevEnd}), nil
}
