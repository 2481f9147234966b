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
// included; "-" on a direct link).
var tableHeader = []string{"link", "contender", "flags", "wall s", "cpu s", "serve cpu s", "MB fetched", "MB transferred", "MB wire",
	"time ratio", "cpu ratio", "bytes ratio"}

func (t *table) add(l link, sync bool, results map[string]run) {
	base, hasBase := results["pg_rewind"]
	for _, c := range contenders {
		r, ok := results[c.name]
		if !ok {
			continue
		}
		ratio, cpuRatio, bytesRatio := "-", "-", "-"
		if hasBase && c.jobs > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.wall)/float64(base.wall))
			cpuRatio = fmt.Sprintf("%.2f", float64(r.cpu)/float64(base.cpu))
			if base.transferred > 0 {
				bytesRatio = fmt.Sprintf("%.3f", float64(r.transferred)/float64(base.transferred))
			}
		}
		flags := "--no-sync"
		if sync {
			flags = "(sync)"
		}
		serveCPU := "-"
		if r.serveCPU >= 0 {
			serveCPU = fmt.Sprintf("%.2f", r.serveCPU.Seconds())
		}
		wire := "-"
		if r.wire >= 0 {
			wire = fmt.Sprintf("%.1f", mb(r.wire))
		}
		t.rows = append(t.rows, []string{l.name, c.name, flags,
			fmt.Sprintf("%.2f", r.wall.Seconds()), fmt.Sprintf("%.2f", r.cpu.Seconds()), serveCPU,
			fmt.Sprintf("%.1f", mb(r.fetched)), fmt.Sprintf("%.1f", mb(r.transferred)), wire,
			ratio, cpuRatio, bytesRatio})
	}
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
		for _, cell := range row {
			fmt.Fprint(w, cell+"\t")
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}
