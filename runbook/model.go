package runbook

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Pos is a place in a playbook or inventory file, for error messages.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Playbook is a parsed, validated playbook: which hosts, which steps.
type Playbook struct {
	File string
	Name string
	// Hosts is the inventory pattern the playbook runs on.
	Hosts string
	// Become is the default OS user for every step ("" = login user).
	Become string
	// Vars are the playbook's variables (above inventory, below -e).
	Vars map[string]any
	// Serial is the batch size: "N", "P%" or "" for all hosts at once.
	Serial string
	// MaxFailPercentage stops the run when more than this share of all
	// hosts of the run (not of one batch) has failed; nil means any failure
	// only stops that host.
	MaxFailPercentage *float64
	Steps             []*Step

	// src records where parts were written, for Validate's messages; nil
	// for playbooks built in Go.
	src *playbookSource
}

// Step is one step of a playbook: a kind with its raw parameters and the
// common options.
type Step struct {
	Name string
	Pos  Pos
	Kind *Kind
	// Params is the kind's YAML value; templates in its strings are rendered
	// per host just before the step runs.
	Params *yaml.Node

	When         string // condition; empty = always
	Register     string
	Become       *string // nil = the playbook's
	Tags         []string
	Retries      int
	Delay        time.Duration
	Until        string // condition; retried until true
	ChangedWhen  string
	FailedWhen   string
	IgnoreErrors bool
	RunOnce      bool
	DelegateTo   string
}

// Inventory is the set of hosts and groups, with their variables.
type Inventory struct {
	File string
	// Hosts by name.
	Hosts map[string]*Host
	// Groups by name; "all" holds every host.
	Groups map[string]*Group

	// src records where variables were written, for Validate's messages;
	// nil for inventories built in Go.
	src *inventorySource
}

// Group is a named set of hosts with variables; children's hosts belong to
// the group too.
type Group struct {
	Name     string
	Hosts    []string
	Children []string
	Vars     map[string]any
	// Depth is the group's distance from "all" (1 for a child of all); deeper
	// groups' variables win over shallower ones.
	Depth int
}

// Host is one inventory host.
type Host struct {
	Name string
	// Vars are the host's own variables (address, port, user, ...).
	Vars map[string]any
	// Groups the host belongs to, directly or through children.
	Groups []string
}
