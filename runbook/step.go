package runbook

import (
	"context"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// Kind describes one step kind (command, file, pg_stop, ...): its name in
// the playbook and how to make its parameters.
type Kind struct {
	// Name is the key that selects the kind in a step, e.g. "pg_stop".
	Name string
	// New returns a pointer to a zero parameter struct. The step's YAML
	// value is decoded into it strictly (unknown keys are errors), after its
	// templates have been rendered for the host.
	New func() Action
	// Scalar, when set, names the yaml field that a plain scalar value fills
	// in, so that `command: "pg_ctl status"` means `command: {cmd: ...}`.
	Scalar string
}

// Action is a decoded step, ready to run on one host. Every built-in action
// first inspects the host, then changes only what differs; under
// Target.Check it inspects only and reports what it would change.
type Action interface {
	Run(ctx context.Context, t *Target) (Outcome, error)
}

// Validator is implemented by actions that can check their parameters
// before anything runs (required fields, exclusive choices).
type Validator interface {
	Validate() error
}

// Target is the host a step runs on, as the step sees it.
type Target struct {
	// Host is the inventory host with its own variables, not merged with
	// its groups' (the step's parameters arrive rendered with the merged
	// ones; a Peer's Host carries merged ones).
	Host *Host
	// Conn is the host's live connection.
	Conn transport.Conn
	// Become is the OS user the step runs as ("" for the login user).
	Become string
	// Check asks the step to inspect only and change nothing.
	Check bool
	// Diff asks the step to report the before and after of files it changes
	// (or would change, under Check).
	Diff bool
	// Output receives live output lines of the step ("stdout" or "stderr").
	Output func(stream, line string)
	// Progress receives progress of long work (WAL staging, rewind copy).
	Progress func(Progress)
	// Peers, when set, opens the Target of another inventory host; steps
	// call it through Peer. The executor sets it; tests may too.
	Peers func(ctx context.Context, name string) (*Target, error)

	// redactor masks the run's secrets in events; see MarkSecret.
	redactor *Redactor
}

// Outcome is what a step did, or under Check would do.
type Outcome struct {
	// Changed is true when the step changed (or would change) the host.
	Changed bool
	// Skipped is true when the step decided not to run, e.g. a command
	// whose `creates` path exists.
	Skipped bool
	// Msg is a one-line summary for the operator.
	Msg string
	// Diffs holds the before/after of each changed file, when Target.Diff.
	Diffs []FileDiff
	// RC, Stdout and Stderr are set by steps that run a command.
	RC     int
	Stdout string
	Stderr string
	// Facts are extra fields that `register` exposes, e.g. query rows.
	Facts map[string]any
	// Note is a line the run's recap repeats for the host, for what an
	// operator must not miss at the end of a long run (the writes a rewind
	// threw away).
	Note string
}

// FileDiff is the content of one file before and after a step.
type FileDiff struct {
	Path   string
	Before string
	After  string
}

// Progress reports how far long work has come.
type Progress struct {
	// Phase names the work, e.g. "copy" or "wal_stage".
	Phase string
	Done  int64
	Total int64
	// Unit is what Done and Total count, e.g. "bytes" or "files".
	Unit string
}
