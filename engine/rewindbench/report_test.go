package rewindbench

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// copiedLine is pg_rewind's progress line, rewritten in place with \r;
// the first number is what was fetched so far, in kB.
var copiedLine = regexp.MustCompile(`(\d+)/(\d+) kB \(\d+%\) copied`)

// pgRewindFetched reads what pg_rewind -P fetched from its output: the
// last progress line, which pg_rewind prints once more when done.
func pgRewindFetched(output string) (int64, error) {
	m := copiedLine.FindAllStringSubmatch(output, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("read bytes fetched from pg_rewind output: no %q line in %q", "kB (100%) copied", tailBytes([]byte(output), 500))
	}
	kb, err := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read bytes fetched from pg_rewind output: %w", err)
	}
	return kb * 1024, nil
}

// rewindReport is what the benchmark reads from a pgrunbook rewind report.
type rewindReport struct {
	fetched, transferred int64
	// transfer is how the file data came: "sql", "stream", "local", or
	// empty from an engine that does not say.
	transfer string
}

// readReport reads bytes_fetched, bytes_transferred and transfer from a
// pgrunbook rewind report. A report without bytes_transferred is from an
// engine that only fetches over SQL: then it equals bytes_fetched.
func readReport(path string) (rewindReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return rewindReport{}, fmt.Errorf("read rewind report: %w", err)
	}
	var rep struct {
		BytesFetched     *int64 `json:"bytes_fetched"`
		BytesTransferred *int64 `json:"bytes_transferred"`
		Transfer         string `json:"transfer"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rewindReport{}, fmt.Errorf("read rewind report %s: %w", path, err)
	}
	if rep.BytesFetched == nil {
		return rewindReport{}, fmt.Errorf("read rewind report %s: no bytes_fetched", path)
	}
	out := rewindReport{fetched: *rep.BytesFetched, transferred: *rep.BytesFetched, transfer: rep.Transfer}
	switch {
	case rep.BytesTransferred != nil:
		out.transferred = *rep.BytesTransferred
	case rep.Transfer == "stream":
		return rewindReport{}, fmt.Errorf("read rewind report %s: transfer %q without bytes_transferred", path, rep.Transfer)
	}
	return out, nil
}
