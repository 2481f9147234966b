package runbook

import (
	"context"
	"errors"
	"time"
)

// The parser's tests use their own step kinds (the real ones live in
// package steps, which imports this one). Names start with pt ("parser
// test") to stay clear of the executor's test helpers in this package.

// ptStop mimics pg_stop.
type ptStop struct {
	Pgdata string `yaml:"pgdata"`
	Mode   string `yaml:"mode"`
}

func (*ptStop) Run(context.Context, *Target) (Outcome, error) { return Outcome{}, nil }

// ptRewind mimics rewind, with nested and map parameters and a Validator.
type ptRewind struct {
	Pgdata       string         `yaml:"pgdata"`
	SourceServer string         `yaml:"source_server"`
	Jobs         int            `yaml:"jobs"`
	Opts         ptRewindOpts   `yaml:"opts"`
	Set          map[string]any `yaml:"set"`
	Targets      []ptTarget     `yaml:"targets"`
}

type ptRewindOpts struct {
	Wait  time.Duration `yaml:"wait"`
	Debug bool          `yaml:"debug"`
}

type ptTarget struct {
	Path string `yaml:"path"`
}

func (*ptRewind) Run(context.Context, *Target) (Outcome, error) { return Outcome{}, nil }

func (r *ptRewind) Validate() error {
	if r.Pgdata == "" {
		return errors.New("pgdata is required")
	}
	return nil
}

// ptCommand mimics command: a scalar fills cmd.
type ptCommand struct {
	Cmd           string            `yaml:"cmd"`
	Argv          []string          `yaml:"argv"`
	Env           map[string]string `yaml:"env"`
	ptCommonFlags `yaml:",inline"`
}

type ptCommonFlags struct {
	Creates string `yaml:"creates"`
}

func (*ptCommand) Run(context.Context, *Target) (Outcome, error) { return Outcome{}, nil }

// ptKinds are the kinds the parser tests load playbooks with.
func ptKinds() []*Kind {
	return []*Kind{
		{Name: "fake_stop", New: func() Action { return &ptStop{} }},
		{Name: "fake_rewind", New: func() Action { return &ptRewind{} }},
		{Name: "fake_command", New: func() Action { return &ptCommand{} }, Scalar: "cmd"},
	}
}
