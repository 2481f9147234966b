package runbook

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// TextRenderer writes the event stream for people: every line of a host
// starts with the host's name ("pg1 | ..."), so the output of hosts running
// at once stays readable; on a single host a header names each step as it
// starts; step ends
// carry a status word, the duration and the step's message; --diff shows
// unified diffs; the run ends with a PLAY RECAP table.
type TextRenderer struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	header string
	// hosts is how many hosts the play runs on. With several, hosts run
	// their steps at their own pace, so a banner per step would end up
	// above another step's results; the end line names the step instead.
	hosts int
	// progress remembers, per host and phase, the last tenth of the work
	// and the time printed, so long work shows a handful of lines, not
	// thousands.
	progress map[string]progressMark
}

type progressMark struct {
	tenth int64
	at    time.Time
}

// NewTextRenderer returns a renderer that writes to w; use its Event method
// as RunOptions.Events.
func NewTextRenderer(w io.Writer) *TextRenderer {
	return &TextRenderer{w: w, progress: make(map[string]progressMark)}
}

// Err returns the first error writing the output, if any.
func (r *TextRenderer) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Play writes the header of a run: the playbook's name and its hosts.
func (r *TextRenderer) Play(name string, hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts = len(hosts)
	r.printf("%s\nhosts: %s\n", banner("PLAY ["+name+"]"), strings.Join(hosts, ", "))
}

// Event renders one event.
func (r *TextRenderer) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case EventStepStart:
		if r.hosts <= 1 && e.Step != r.header {
			r.header = e.Step
			r.printf("\n%s\n", banner("STEP ["+e.Step+"]"))
		}
	case EventOutput:
		if e.Stream == "retry" {
			r.printf("%s | retry: %s\n", e.Host, e.Line)
			return
		}
		r.printf("%s | %s\n", e.Host, e.Line)
	case EventProgress:
		r.renderProgress(e)
	case EventStepEnd:
		r.renderEnd(e)
	case EventRecap:
		r.renderRecap(e)
	}
}

func (r *TextRenderer) renderEnd(e Event) {
	for _, d := range e.Diffs {
		hunks := unifiedDiff(d.Before, d.After)
		if len(hunks) == 0 {
			continue
		}
		r.printf("%s | --- %s (before)\n%s | +++ %s (after)\n", e.Host, d.Path, e.Host, d.Path)
		for _, l := range hunks {
			r.printf("%s | %s\n", e.Host, l)
		}
	}
	word := string(e.Status)
	if e.Ignored {
		word += " (ignored)"
	}
	line := fmt.Sprintf("%s | %s: %s (%s)", e.Host, word, e.Step, formatMS(e.DurationMS))
	if e.Msg != "" {
		line += ": " + strings.ReplaceAll(e.Msg, "\n", " ")
	}
	r.printf("%s\n", line)
}

func (r *TextRenderer) renderProgress(e Event) {
	p := e.Progress
	if p == nil {
		return
	}
	key := e.Host + "\x00" + e.Step + "\x00" + p.Phase
	last, seen := r.progress[key]
	tenth := int64(-1)
	if p.Total > 0 {
		tenth = p.Done * 10 / p.Total
	}
	switch {
	case !seen, p.Total > 0 && tenth > last.tenth, p.Total <= 0 && e.Time.Sub(last.at) >= time.Second:
	default:
		return
	}
	r.progress[key] = progressMark{tenth: tenth, at: e.Time}
	if p.Total > 0 {
		r.printf("%s | %s: %d%% (%s of %s)\n", e.Host, p.Phase, p.Done*100/p.Total, quantity(p.Done, p.Unit), quantity(p.Total, p.Unit))
		return
	}
	r.printf("%s | %s: %s\n", e.Host, p.Phase, quantity(p.Done, p.Unit))
}

func (r *TextRenderer) renderRecap(e Event) {
	r.printf("\n%s\n", banner("PLAY RECAP"))
	names := make([]string, 0, len(e.Hosts))
	width := 0
	for n := range e.Hosts {
		names = append(names, n)
		width = max(width, len(n))
	}
	slices.Sort(names)
	for _, n := range names {
		c := e.Hosts[n]
		r.printf("%-*s : ok=%-4d changed=%-4d unreachable=%-4d failed=%-4d skipped=%d\n",
			width, n, c.OK, c.Changed, c.Unreachable, c.Failed, c.Skipped)
	}
	noted := false
	for _, n := range names {
		for _, l := range e.Notes[n] {
			if !noted {
				r.printf("\n")
				noted = true
			}
			r.printf("%-*s : %s\n", width, n, l)
		}
	}
	if e.Msg != "" {
		r.printf("\nrun stopped: %s\n", e.Msg)
	}
}

func (r *TextRenderer) printf(format string, args ...any) {
	if r.err != nil {
		return
	}
	if _, err := fmt.Fprintf(r.w, format, args...); err != nil {
		r.err = fmt.Errorf("write run output: %w", err)
	}
}

// banner pads a title with stars to a fixed width, as Ansible does, so
// headers stand out in a long scroll.
func banner(title string) string {
	return title + " " + strings.Repeat("*", max(3, 72-len(title)))
}

func formatMS(ms int64) string {
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

// quantity writes n with its unit, shortening byte counts.
func quantity(n int64, unit string) string {
	if unit != "bytes" || n < 1024 {
		return strings.TrimSpace(fmt.Sprintf("%d %s", n, unit))
	}
	f := float64(n)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 {
			return fmt.Sprintf("%.1f %s", f, suffix)
		}
	}
	return fmt.Sprintf("%.1f PiB", f/1024)
}
