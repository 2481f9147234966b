package runbook

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// reservedVars are the variables HostVars sets itself; playbooks and
// inventories may not define them, so that they always mean the same.
var reservedVars = map[string]bool{"inventory_hostname": true, "groups": true, "hostvars": true}

// HostVars returns the variables host h sees, merged from every level. A
// later row wins over an earlier one; values are replaced, never merged key
// by key:
//
//	level                     where it is set
//	1  group all              inventory all.vars
//	2  other groups           inventory <group>.vars, shallower groups first
//	                          (Group.Depth), then by group name
//	3  host                   inventory all.hosts.<host> or <group>.hosts.<host>
//	                          (a host listed in several places merges, later wins)
//	4  playbook               the playbook's vars
//	5  extra                  -e KEY=VALUE on the command line
//	6  set by pgrunbook       inventory_hostname (the host's name), groups
//	                          (group name -> host names, in inventory order) and
//	                          hostvars (host name -> that host's levels 1-3 and
//	                          its inventory_hostname, rendered for that host)
//
// String values that contain "{{" are templates rendered against the
// merged variables, in the order their references need (a variable may use
// another: `source: "host={{ .new_primary }} port=5432"`). Rendered values
// stay strings. A variable whose template cannot be rendered is left out,
// so that every use of it fails instead of shipping braces to a host;
// Validate reports why. The map is the caller's to change (the executor
// adds registered results) and its values are copies, except groups and
// hostvars, which are shared by every host and must be treated as
// read-only.
func (inv *Inventory) HostVars(h *Host, pb *Playbook, extra map[string]any) map[string]any {
	vars, _, _ := inv.hostVars(h, pb, extra)
	return vars
}

// hostVars merges and renders the variables of h and returns the problems
// of rendering them, each at the place the failing variable was defined,
// and the set of variables left out because they failed.
func (inv *Inventory) hostVars(h *Host, pb *Playbook, extra map[string]any) (map[string]any, []hostProblem, map[string]bool) {
	vars := map[string]any{}
	origin := map[string]Pos{}
	inv.inventoryVars(h, vars, origin)
	if pb != nil {
		for k, v := range pb.Vars {
			vars[k] = copyValue(v)
			origin[k] = Pos{File: pb.File}
			if pb.src != nil {
				if p, ok := pb.src.vars[k]; ok {
					origin[k] = p
				}
			}
		}
	}
	for k, v := range extra {
		vars[k] = copyValue(v)
		origin[k] = Pos{File: "-e " + k}
	}
	vars["inventory_hostname"] = h.Name
	vars["groups"], vars["hostvars"] = inv.derivedVars()
	problems, failed := resolveVars(vars, origin)
	return vars, problems, failed
}

// inventoryVars merges levels 1 to 3 of the HostVars table into vars and
// records where each winning value was defined.
func (inv *Inventory) inventoryVars(h *Host, vars map[string]any, origin map[string]Pos) {
	if inv == nil {
		for k, v := range h.Vars {
			vars[k] = copyValue(v)
		}
		return
	}
	var groups []*Group
	for _, name := range h.Groups {
		if g := inv.Groups[name]; g != nil && name != "all" {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b *Group) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), cmp.Compare(a.Name, b.Name))
	})
	if all := inv.Groups["all"]; all != nil {
		groups = append([]*Group{all}, groups...)
	}
	for _, g := range groups {
		for k, v := range g.Vars {
			vars[k] = copyValue(v)
			origin[k] = inv.src.groupVar(inv.File, g.Name, k)
		}
	}
	for k, v := range h.Vars {
		vars[k] = copyValue(v)
		origin[k] = inv.src.hostVar(inv.File, h.Name, k)
	}
}

// derivedVars returns the groups and hostvars variables, built once per
// loaded inventory (and each time for inventories built in Go, which have
// no cache).
func (inv *Inventory) derivedVars() (groups, hostvars map[string]any) {
	if inv == nil || inv.src == nil {
		return inv.groupMembers(), inv.allHostVars()
	}
	inv.src.derived.Do(func() {
		inv.src.groups, inv.src.hostvars = inv.groupMembers(), inv.allHostVars()
	})
	return inv.src.groups, inv.src.hostvars
}

// groupMembers maps every group to its hosts (direct and through
// children), in inventory order.
func (inv *Inventory) groupMembers() map[string]any {
	out := map[string]any{}
	if inv == nil {
		return out
	}
	for name := range inv.Groups {
		out[name] = inv.members(name)
	}
	return out
}

// allHostVars maps every host to its inventory variables (levels 1 to 3)
// and inventory_hostname, rendered with that host's own inventory
// variables and groups. A variable whose template needs hostvars itself,
// or fails, is left out: hostvars does not nest.
func (inv *Inventory) allHostVars() map[string]any {
	out := map[string]any{}
	if inv == nil {
		return out
	}
	groups := inv.groupMembers()
	for name, h := range inv.Hosts {
		v := map[string]any{}
		inv.inventoryVars(h, v, map[string]Pos{})
		v["inventory_hostname"] = name
		v["groups"] = groups
		resolveVars(v, map[string]Pos{})
		delete(v, "groups")
		out[name] = v
	}
	return out
}

// resolveVars renders the templates in variable values, each variable after
// the variables it refers to. A variable that fails is removed from vars,
// reported, and returned in the failed set; one that fails only because a
// variable it uses failed is removed and returned but not reported again.
func resolveVars(vars map[string]any, origin map[string]Pos) ([]hostProblem, map[string]bool) {
	const (
		pending = iota
		active
		done
	)
	state := map[string]int{}
	failed := map[string]bool{}
	var problems []hostProblem
	var stack []string
	var resolve func(name string)
	resolve = func(name string) {
		v, ok := vars[name]
		if !ok || state[name] != pending || reservedVars[name] {
			return
		}
		state[name] = active
		stack = append(stack, name)
		defer func() { stack = stack[:len(stack)-1]; state[name] = done }()
		texts := templatedStrings(v)
		depFailed := false
		for _, t := range texts {
			for _, dep := range templateNames(t) {
				if state[dep] == active {
					loop := append(slices.Clone(stack[slices.Index(stack, dep):]), dep)
					problems = append(problems, hostProblem{pos: origin[name],
						msg: fmt.Sprintf("variables refer to each other in a loop: %s", strings.Join(loop, " -> "))})
					failed[name] = true
					delete(vars, name)
					return
				}
				resolve(dep)
				depFailed = depFailed || failed[dep]
			}
		}
		if len(texts) == 0 {
			return
		}
		r, err := renderValue(v, vars)
		switch {
		case err != nil && depFailed:
			failed[name] = true
			delete(vars, name)
		case err != nil:
			problems = append(problems, hostProblem{pos: origin[name], msg: fmt.Sprintf("variable %q: %v", name, err)})
			failed[name] = true
			delete(vars, name)
		default:
			vars[name] = r
		}
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		resolve(name)
	}
	return problems, failed
}

// templatedStrings returns the strings in v that contain "{{".
func templatedStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		if strings.Contains(v, "{{") {
			out = append(out, v)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out = append(out, templatedStrings(v[k])...)
		}
	case []any:
		for _, e := range v {
			out = append(out, templatedStrings(e)...)
		}
	}
	return out
}

// renderValue returns a copy of v with every string rendered with vars.
func renderValue(v any, vars map[string]any) (any, error) {
	switch v := v.(type) {
	case string:
		return Render(v, vars)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			r, err := renderValue(e, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := renderValue(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// copyValue copies the maps and lists of a variable value so that callers
// can change what HostVars returns without touching the inventory.
func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = copyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}

// ParseExtraVars parses -e KEY=VALUE arguments. KEY is a plain variable
// name (no dots); VALUE is read as a scalar: a plain decimal number such as
// 5432 or 0.5 is a number, true and false are booleans, and anything else,
// including "", "null" and "0700", is the string as given. A later KEY wins.
func ParseExtraVars(kvs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		// The errors name the key only: the value may be a password.
		case !ok:
			return nil, fmt.Errorf("parse -e %q: want KEY=VALUE", RedactConninfo(kv))
		case !isIdentifier(k):
			return nil, fmt.Errorf("parse -e %s=...: %q is not a variable name (letters, digits, _)", k, k)
		case reservedVars[k]:
			return nil, fmt.Errorf("parse -e %s=...: %q is set by pgrunbook", k, k)
		}
		out[k] = scalarValue(v)
	}
	return out, nil
}

// scalarValue reads s the way a rendered value is read (see scalarTag):
// plain decimal numbers become int or float64, booleans bool, and anything
// else stays the string s. So "0700" stays "0700" (not YAML 1.1's octal
// 448, which would surprise as a file mode), and timestamps and "null" stay
// text.
func scalarValue(s string) any {
	switch scalarTag(s) {
	case "!!int":
		if i, err := strconv.Atoi(s); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case "!!bool":
		var b bool
		if (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).Decode(&b) == nil {
			return b
		}
	}
	return s
}

// nodeValue turns a YAML value into plain Go values: map[string]any,
// []any and the scalars of scalarValue (a null is nil). Quoted scalars stay
// strings.
func nodeValue(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[deref(n.Content[i]).Value] = nodeValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = nodeValue(c)
		}
		return l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!str", "!!timestamp", "!!binary":
			return n.Value
		}
		return scalarValue(n.Value)
	}
	return nil
}
