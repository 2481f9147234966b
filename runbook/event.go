package runbook

import "time"

// EventType names what an Event reports.
type EventType string

// The event types of the run's event stream; their names are part of the
// JSON output format.
const (
	EventStepStart EventType = "step_start"
	EventOutput    EventType = "output"
	EventStepEnd   EventType = "step_end"
	EventProgress  EventType = "progress"
	EventRecap     EventType = "recap"
)

// Status is the result of one step on one host.
type Status string

// The step statuses, as they appear in the recap and the JSON output.
const (
	StatusOK          Status = "ok"
	StatusChanged     Status = "changed"
	StatusSkipped     Status = "skipped"
	StatusFailed      Status = "failed"
	StatusUnreachable Status = "unreachable"
)

// Event is one entry of the run's event stream: a step starting, a line of
// output, a step ending, progress of long work, or the final recap.
type Event struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	Host string    `json:"host,omitempty"`
	Step string    `json:"step,omitempty"`

	// Output events.
	Stream string `json:"stream,omitempty"`
	Line   string `json:"line,omitempty"`

	// Step end events.
	Status     Status     `json:"status,omitempty"`
	DurationMS int64      `json:"duration_ms,omitempty"`
	Msg        string     `json:"msg,omitempty"`
	Diffs      []FileDiff `json:"diffs,omitempty"`
	Ignored    bool       `json:"ignored,omitempty"`

	// Progress events.
	Progress *Progress `json:"progress,omitempty"`

	// The recap event.
	Hosts map[string]HostRecap `json:"hosts,omitempty"`
	// Notes are the steps' recap lines (Outcome.Note), per host, in the
	// order the steps ran.
	Notes map[string][]string `json:"notes,omitempty"`
}

// HostRecap counts the step results of one host over the whole run.
type HostRecap struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Skipped     int `json:"skipped"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
}
