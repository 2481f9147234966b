package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// demoRun keeps what the demo's report needs from one run's events: the
// step ends in order and each step's output lines. The executor sends
// events from several hosts at once.
type demoRun struct {
	mu     sync.Mutex
	ends   []runbook.Event
	output map[string][]string // "host/step" -> lines
}

func (r *demoRun) add(e runbook.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case runbook.EventStepEnd:
		r.ends = append(r.ends, e)
	case runbook.EventOutput:
		if r.output == nil {
			r.output = map[string][]string{}
		}
		r.output[e.Host+"/"+e.Step] = append(r.output[e.Host+"/"+e.Step], e.Line)
	}
}

// lines returns the output of a step on any host (a delegated step
// reports under the delegating host).
func (r *demoRun) lines(step string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, l := range r.output {
		if strings.HasSuffix(k, "/"+step) {
			out = append(out, l...)
		}
	}
	return out
}

// demoReport is the summary printed after the demo's rejoin, for one
// rejoined host.
type demoReport struct {
	host, newPrimary string
	newTimeline      string
	stage            engine.StageReport
	rewind           engine.Report
	steps            []runbook.Event
	checks           []string
}

// collectDemoReport reads the staging and rewind reports the rejoin kept
// in dir and picks the rest from the runs' events.
func collectDemoReport(lab *testenv.Lab, dir string, drill, rejoin *demoRun) (*demoReport, error) {
	c := lab.Clusters[0]
	rep := &demoReport{host: c.Primary, newPrimary: c.NewPrimary(), newTimeline: "?"}
	if err := readDemoJSON(dir, c.Primary+"-wal_stage-*.json", &rep.stage); err != nil {
		return nil, err
	}
	if err := readDemoJSON(dir, c.Primary+"-rewind-*.json", &rep.rewind); err != nil {
		return nil, err
	}
	// The drill's promotion says which timeline the new primary is on.
	for _, l := range drill.lines("promote the new primary") {
		if tli, ok := strings.CutPrefix(l, "timeline "); ok {
			rep.newTimeline = tli
		}
	}
	for _, e := range rejoin.ends {
		if e.Host == c.Primary {
			rep.steps = append(rep.steps, e)
		}
	}
	rep.checks = rejoin.lines("verify the rejoin")
	if len(rep.checks) == 0 {
		return nil, fmt.Errorf("the rejoin's verify step reported no checks")
	}
	return rep, nil
}

// readDemoJSON decodes the newest report matching pattern in dir.
func readDemoJSON(dir, pattern string, v any) error {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("read report %s in %s: none found", pattern, dir)
	}
	slices.Sort(files) // names end in a UTC timestamp
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		return fmt.Errorf("read report %s: %w", files[len(files)-1], err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read report %s: %w", files[len(files)-1], err)
	}
	return nil
}

// print writes the report.
func (r *demoReport) print(w io.Writer) {
	fmt.Fprintf(w, "REJOIN REPORT: %s is a standby of %s\n\n", r.host, r.newPrimary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if d := r.rewind.Divergence; d != nil {
		fmt.Fprintf(tw, "  divergence\t%s on timeline %d; %s continues on timeline %s\n", d.LSN, d.Timeline, r.newPrimary, r.newTimeline)
	}
	if c := r.rewind.LastCommonCheckpoint; c != nil {
		fmt.Fprintf(tw, "  last common checkpoint\t%s (redo %s) on timeline %d\n", c.LSN, c.Redo, c.Timeline)
	}
	var staged []string
	for _, f := range r.stage.Staged {
		staged = append(staged, f.Name)
	}
	fmt.Fprintf(tw, "  WAL segments staged\t%d from the archive (%d bytes)%s; %d already in pg_wal\n",
		len(staged), r.stage.BytesStaged, listSuffix(staged), len(r.stage.Present))
	fmt.Fprintf(tw, "  rewound\t%d bytes fetched from %s in %d ms\n", r.rewind.BytesFetched, r.newPrimary, r.rewind.DurationMS)
	if r.rewind.Transfer == engine.TransferStream {
		fmt.Fprintf(tw, "  transfer\tcompressed stream, %d bytes sent\n", r.rewind.BytesTransferred)
	}
	if sk := r.rewind.BytesSkipped; sk.WALBeforeRedo+sk.WALRecycled+sk.Unlogged+sk.Temp > 0 {
		fmt.Fprintf(tw, "  left out\t%d bytes recovery never reads (WAL before redo %d, recycled WAL %d, unlogged %d, temporary %d)\n",
			sk.WALBeforeRedo+sk.WALRecycled+sk.Unlogged+sk.Temp, sk.WALBeforeRedo, sk.WALRecycled, sk.Unlogged, sk.Temp)
	}
	actions := make([]string, 0, len(r.rewind.Actions))
	for a := range r.rewind.Actions {
		actions = append(actions, a)
	}
	slices.Sort(actions)
	for _, a := range actions {
		t := r.rewind.Actions[a]
		fmt.Fprintf(tw, "    %s\t%d files, %d bytes\n", a, t.Files, t.Bytes)
	}
	if l := r.rewind.Lost; l != nil {
		fmt.Fprintf(tw, "  thrown away\t%d commits, %d bytes of WAL, %d relations written on %s after the divergence\n",
			len(l.Commits), l.WALBytes, len(l.Relations), r.host)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n  time per step\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range r.steps {
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", e.Step, e.Status, time.Duration(e.DurationMS)*time.Millisecond)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n  verify\n")
	for _, c := range r.checks {
		fmt.Fprintf(w, "    %s\n", c)
	}
}

// listSuffix is " (a, b)" for a non-empty list.
func listSuffix(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}
