package runbook

// STUB: the functions in this file are the contract between the parser and
// the executor; the parser work replaces their bodies (and may move them to
// other files of this package).

import "errors"

var errNotImplemented = errors.New("not implemented yet")

// LoadInventory reads and strictly parses a YAML inventory file.
func LoadInventory(path string) (*Inventory, error) { return nil, errNotImplemented }

// LoadPlaybook reads and strictly parses a playbook file. kinds are the step
// kinds a step may use.
func LoadPlaybook(path string, kinds []*Kind) (*Playbook, error) { return nil, errNotImplemented }

// Match returns the hosts that pattern selects, in inventory order.
func (inv *Inventory) Match(pattern string) ([]*Host, error) { return nil, errNotImplemented }

// HostVars merges the variables host h sees, by the documented precedence:
// group all < other groups (shallower first) < host < playbook < extra (-e).
func (inv *Inventory) HostVars(h *Host, pb *Playbook, extra map[string]any) map[string]any {
	return nil
}

// ParseExtraVars parses -e KEY=VALUE arguments.
func ParseExtraVars(kvs []string) (map[string]any, error) { return nil, errNotImplemented }

// Validate checks everything that can be checked before any host is
// contacted: it renders every step's templates for every host (registered
// variables stand in with empty values) and decodes its parameters. All
// problems are reported together, each with file:line:col and the step name.
func Validate(pb *Playbook, inv *Inventory, hosts []*Host, extra map[string]any) error {
	return errNotImplemented
}

// Action renders the step's parameters with vars and decodes them into a
// fresh action of the step's kind.
func (s *Step) Action(vars map[string]any) (Action, error) { return nil, errNotImplemented }

// Render renders a text/template string with missingkey=error.
func Render(text string, vars map[string]any) (string, error) { return "", errNotImplemented }

// EvalCondition evaluates a when/until/changed_when/failed_when condition.
func EvalCondition(expr string, vars map[string]any) (bool, error) { return false, errNotImplemented }
