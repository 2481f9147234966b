package rewindbench

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// table collects the results for the summary printed at the end: one row
// per link, sync mode and contender, the ratios against pg_rewind on the
// same link and mode.
type table struct {
	rows [][]string
}

// tableHeader names the columns; "serve cpu s" is rewind-serve's CPU time
// (stream only), "MB transferred" is the file data as it
// crossed the network (compressed for the stream), "MB wire" everything
// the link's proxies carried both ways (SQL and stream, protocol
// included; "-" on a direct link). tableNote says what the medians and
// spreads are.
var tableHeader = []string{"link", "contender", "flags", "rounds", "wall s", "wall min-max", "cpu s", "serve cpu s",
	"MB fetched", "MB transferred", "MB wire", "time ratio", "ratio min-max", "cpu ratio", "bytes ratio"}

// tableNote is printed under the table.
const tableNote = `wall s, cpu s, serve cpu s and the MB columns: each contender's median over its rounds.
time, cpu and bytes ratio: the median of the per-round ratios to pg_rewind's run in the same round.
wall min-max and ratio min-max: the fastest and slowest of the rounds, the noise the medians smooth.
`

// add puts the rows of one link and sync mode, in the contenders' order.
func (t *table) add(l link, sync bool, sums map[string]summary) {
	for _, c := range contenders {
		s, ok := sums[c.name]
		if !ok {
			continue
		}
		flags := "--no-sync"
		if sync {
			flags = "(sync)"
		}
		t.rows = append(t.rows, []string{l.name, c.name, flags, fmt.Sprint(s.rounds),
			cell(s.wall, 1, "%.2f"), spread(s.wall, 1, "%.2f"), cell(s.cpu, 1, "%.2f"), cell(s.serveCPU, 1, "%.2f"),
			cell(s.fetched, 1<<20, "%.1f"), cell(s.transferred, 1<<20, "%.1f"), cell(s.wire, 1<<20, "%.1f"),
			cell(s.ratio, 1, "%.2f"), spread(s.ratio, 1, "%.2f"), cell(s.cpuRatio, 1, "%.2f"), cell(s.bytesRatio, 1, "%.3f")})
	}
}

// cell is the median of s divided by unit, or "-" when no round had it.
func cell(s stat, unit float64, format string) string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf(format, s.med/unit)
}

// spread is "min-max" of s divided by unit, or "-" when no round had it.
func spread(s stat, unit float64, format string) string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf(format+"-"+format, s.min/unit, s.max/unit)
}

func (t *table) print() {
	t.write(os.Stdout)
}

func (t *table) write(out io.Writer) {
	if len(t.rows) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range append([][]string{tableHeader}, t.rows...) {
		for _, v := range row {
			fmt.Fprint(w, v+"\t")
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	fmt.Fprint(out, tableNote)
}
