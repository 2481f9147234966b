package runbook

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// JSONRenderer writes the event stream as one JSON object per line
// (DESIGN.md, "Machine-readable output"): every object has "type" and
// "time", host events "host" and "step", step_end events "status" and
// "duration_ms", and the last line is the recap with a "hosts" map.
type JSONRenderer struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

// NewJSONRenderer returns a renderer that writes to w; use its Event method
// as RunOptions.Events.
func NewJSONRenderer(w io.Writer) *JSONRenderer {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONRenderer{enc: enc}
}

// Err returns the first error writing the output, if any.
func (r *JSONRenderer) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// jsonEvent is the wire form of an Event. It is separate from Event so that
// the format is fixed here, field by field: fields that a type always
// carries are present even when zero (a 0 ms step, an empty output line).
type jsonEvent struct {
	Type       EventType             `json:"type"`
	Time       string                `json:"time"`
	Host       string                `json:"host,omitempty"`
	Step       string                `json:"step,omitempty"`
	Stream     string                `json:"stream,omitempty"`
	Line       *string               `json:"line,omitempty"`
	Status     Status                `json:"status,omitempty"`
	DurationMS *int64                `json:"duration_ms,omitempty"`
	Msg        string                `json:"msg,omitempty"`
	Ignored    bool                  `json:"ignored,omitempty"`
	Diffs      []jsonDiff            `json:"diffs,omitempty"`
	Progress   *jsonProgress         `json:"progress,omitempty"`
	Hosts      *map[string]HostRecap `json:"hosts,omitempty"`
	Notes      map[string][]string   `json:"notes,omitempty"`
}

type jsonDiff struct {
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

type jsonProgress struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit,omitempty"`
}

// Event writes one event as a line of JSON.
func (r *JSONRenderer) Event(e Event) {
	je := jsonEvent{
		Type:    e.Type,
		Time:    e.Time.UTC().Format(time.RFC3339Nano),
		Host:    e.Host,
		Step:    e.Step,
		Stream:  e.Stream,
		Status:  e.Status,
		Msg:     e.Msg,
		Ignored: e.Ignored,
	}
	switch e.Type {
	case EventOutput:
		je.Line = &e.Line
	case EventStepEnd:
		je.DurationMS = &e.DurationMS
		for _, d := range e.Diffs {
			je.Diffs = append(je.Diffs, jsonDiff(d))
		}
	case EventProgress:
		if p := e.Progress; p != nil {
			je.Progress = &jsonProgress{Phase: p.Phase, Done: p.Done, Total: p.Total, Unit: p.Unit}
		}
	case EventRecap:
		hosts := e.Hosts
		if hosts == nil {
			hosts = map[string]HostRecap{}
		}
		je.Hosts = &hosts
		je.Notes = e.Notes
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if err := r.enc.Encode(je); err != nil {
		r.err = fmt.Errorf("write run output as json: %w", err)
	}
}
