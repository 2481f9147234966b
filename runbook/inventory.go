package runbook

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// inventorySource remembers where inventory variables were written, so
// that a variable whose template fails is reported at its line.
type inventorySource struct {
	hostVars  map[string]map[string]Pos // host -> variable -> position
	groupVars map[string]map[string]Pos // group -> variable -> position

	// derived caches the groups and hostvars variables, which are the same
	// for every host and cost O(hosts) to build: HostVars runs once per
	// host, so building them each time would make a run O(hosts²).
	derived          sync.Once
	groups, hostvars map[string]any
}

// hostVar is where variable name of host was set, or just the file.
func (s *inventorySource) hostVar(file, host, name string) Pos {
	if s != nil {
		if p, ok := s.hostVars[host][name]; ok {
			return p
		}
	}
	return Pos{File: file}
}

// groupVar is where variable name of group was set, or just the file.
func (s *inventorySource) groupVar(file, group, name string) Pos {
	if s != nil {
		if p, ok := s.groupVars[group][name]; ok {
			return p
		}
	}
	return Pos{File: file}
}

// groupKeys are the keys a group (all included) may have.
var groupKeys = []string{"hosts", "children", "vars"}

// LoadInventory reads and strictly parses a YAML inventory:
//
//	all:
//	  hosts: {pg1: {address: 10.77.0.11, port: 22, user: root}}
//	  vars: {...}
//	  children:
//	    db: {hosts: {pg2: , pg3: }, vars: {...}, children: {...}}
//
// A host entry may be empty (`pg1:`). A host may be listed in several
// groups; its variables from every listing merge, a later one winning. A
// group may be listed under several parents; its Depth is its longest
// distance from all. Hosts keep the order in which the file first names
// them, which is the order Match returns. Every problem is reported at once
// with file:line:col. The inventory is read-only once loaded: HostVars
// caches what it derives from it.
func LoadInventory(path string) (*Inventory, error) {
	f, err := readYAML(path, "inventory")
	if err != nil {
		return nil, err
	}
	l := &inventoryLoader{
		f: f,
		inv: &Inventory{File: path, Hosts: map[string]*Host{}, Groups: map[string]*Group{},
			src: &inventorySource{hostVars: map[string]map[string]Pos{}, groupVars: map[string]map[string]Pos{}}},
		hostAt:  map[string]Pos{},
		groupAt: map[string]Pos{},
	}
	l.load()
	if err := l.errs.err(); err != nil {
		return nil, err
	}
	return l.inv, nil
}

// inventoryLoader holds the state of one LoadInventory.
type inventoryLoader struct {
	f          *yamlFile
	inv        *Inventory
	errs       ErrorList
	hostOrder  []string
	groupOrder []string
	hostAt     map[string]Pos // where each host is first named
	groupAt    map[string]Pos // where each group is first named
}

// load parses the root and derives the membership fields.
func (l *inventoryLoader) load() {
	var allNode *yaml.Node
	for _, p := range l.f.pairs(l.f.root, "inventory", "", &l.errs) {
		if p.key != "all" {
			l.errs.add(l.f.pos(p.keyN), "", "unknown key %q at the top of the inventory (known: all; other groups go under all.children)", p.key)
			continue
		}
		allNode = p.value
	}
	if allNode == nil {
		if len(l.errs) == 0 {
			l.errs.add(l.f.pos(l.f.root), "", "inventory has no all group")
		}
		return
	}
	l.group("all", allNode, []string{"all"})
	l.setDepth("all", 0)
	all := l.inv.Groups["all"]
	all.Hosts = slices.Clone(l.hostOrder)
	for name, at := range l.hostAt {
		if _, clash := l.groupAt[name]; clash {
			l.errs.add(at, "", "%q is both a host and a group; patterns could not tell them apart", name)
		}
	}
	for _, gn := range l.groupOrder {
		for _, hn := range l.inv.members(gn) {
			h := l.inv.Hosts[hn]
			h.Groups = append(h.Groups, gn)
		}
	}
}

// group parses one group's mapping; path is the chain of groups from all,
// for finding loops.
func (l *inventoryLoader) group(name string, n *yaml.Node, path []string) {
	g := l.inv.Groups[name]
	if g == nil {
		g = &Group{Name: name, Vars: map[string]any{}}
		l.inv.Groups[name] = g
		l.groupOrder = append(l.groupOrder, name)
		l.inv.src.groupVars[name] = map[string]Pos{}
	}
	what := fmt.Sprintf("group %q", name)
	for _, p := range l.f.pairs(n, what, "", &l.errs) {
		switch p.key {
		case "hosts":
			for _, hp := range l.f.pairs(p.value, "hosts of "+what, "", &l.errs) {
				if l.checkName(hp, "host") {
					l.host(hp)
					if !slices.Contains(g.Hosts, hp.key) {
						g.Hosts = append(g.Hosts, hp.key)
					}
				}
			}
		case "children":
			for _, cp := range l.f.pairs(p.value, "children of "+what, "", &l.errs) {
				if !l.checkName(cp, "group") {
					continue
				}
				if slices.Contains(path, cp.key) {
					l.errs.add(l.f.pos(cp.keyN), "", "group %q contains itself (%s)", cp.key, strings.Join(append(path, cp.key), " -> "))
					continue
				}
				if !slices.Contains(g.Children, cp.key) {
					g.Children = append(g.Children, cp.key)
				}
				if _, seen := l.groupAt[cp.key]; !seen {
					l.groupAt[cp.key] = l.f.pos(cp.keyN)
				}
				l.group(cp.key, cp.value, append(slices.Clone(path), cp.key))
			}
		case "vars":
			vars, where := l.f.decodeVars(p.value, "vars of "+what, &l.errs)
			l.f.checkTemplates(p.value, "", &l.errs)
			maps.Copy(g.Vars, vars)
			maps.Copy(l.inv.src.groupVars[name], where)
		default:
			l.errs.add(l.f.pos(p.keyN), "", "unknown key %q in %s (known: %s)", p.key, what, strings.Join(groupKeys, ", "))
		}
	}
}

// host records one listing of a host and merges its variables.
func (l *inventoryLoader) host(p yamlPair) {
	h := l.inv.Hosts[p.key]
	if h == nil {
		h = &Host{Name: p.key, Vars: map[string]any{}}
		l.inv.Hosts[p.key] = h
		l.hostOrder = append(l.hostOrder, p.key)
		l.hostAt[p.key] = l.f.pos(p.keyN)
		l.inv.src.hostVars[p.key] = map[string]Pos{}
	}
	v := deref(p.value)
	if !isNull(v) && v.Kind != yaml.MappingNode {
		l.errs.add(l.f.pos(v), "", "host %q must be a mapping of its variables or empty, not %s", p.key, describe(v))
		return
	}
	vars, where := l.f.decodeVars(v, fmt.Sprintf("host %q", p.key), &l.errs)
	l.f.checkTemplates(v, "", &l.errs)
	maps.Copy(h.Vars, vars)
	maps.Copy(l.inv.src.hostVars[p.key], where)
}

// checkName refuses host and group names that host patterns could not
// select: empty, "all", or containing pattern syntax or spaces.
func (l *inventoryLoader) checkName(p yamlPair, what string) bool {
	switch {
	case p.key == "":
		l.errs.add(l.f.pos(p.keyN), "", "empty %s name", what)
	case p.key == "all" || p.key == "*":
		l.errs.add(l.f.pos(p.keyN), "", "%q cannot be a %s name: it selects every host", p.key, what)
	case strings.ContainsAny(p.key, patternChars+" \t"):
		l.errs.add(l.f.pos(p.keyN), "", "%s name %q contains one of %q or a space, which host patterns use", what, p.key, patternChars)
	default:
		return true
	}
	return false
}

// setDepth gives every group its longest distance from all.
func (l *inventoryLoader) setDepth(name string, depth int) {
	g := l.inv.Groups[name]
	if g == nil || (depth <= g.Depth && name != "all") {
		return
	}
	g.Depth = depth
	for _, c := range g.Children {
		l.setDepth(c, depth+1)
	}
}

// order is every host name in inventory order. Inventories built in Go may
// not list every host in all; those come last, by name.
func (inv *Inventory) order() []string {
	var out []string
	seen := map[string]bool{}
	if all := inv.Groups["all"]; all != nil {
		for _, h := range all.Hosts {
			if _, ok := inv.Hosts[h]; ok && !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
	}
	for _, h := range slices.Sorted(maps.Keys(inv.Hosts)) {
		if !seen[h] {
			out = append(out, h)
		}
	}
	return out
}

// members returns the hosts of group name, directly and through its
// children, in inventory order; all has every host.
func (inv *Inventory) members(name string) []string {
	if name == "all" {
		return inv.order()
	}
	in := map[string]bool{}
	visited := map[string]bool{}
	var walk func(string)
	walk = func(gn string) {
		g := inv.Groups[gn]
		if g == nil || visited[gn] {
			return
		}
		visited[gn] = true
		for _, h := range g.Hosts {
			in[h] = true
		}
		for _, c := range g.Children {
			walk(c)
		}
	}
	walk(name)
	var out []string
	for _, h := range inv.order() {
		if in[h] {
			out = append(out, h)
		}
	}
	return out
}
