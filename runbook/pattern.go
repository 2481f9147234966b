package runbook

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// patternChars are the characters host patterns give meaning to; host and
// group names may not contain them.
const patternChars = ",:&!*?[]"

// A patternTerm is one part of a host pattern with its operator: '+' for a
// union, '&' for an intersection, '!' for an exclusion.
type patternTerm struct {
	op   byte
	text string
}

// parsePattern splits a host pattern into terms and checks their syntax.
func parsePattern(pattern string) ([]patternTerm, error) {
	if strings.TrimSpace(pattern) == "" {
		return nil, errors.New("empty host pattern")
	}
	var terms []patternTerm
	for _, raw := range strings.Split(strings.ReplaceAll(pattern, ",", ":"), ":") {
		t := strings.TrimSpace(raw)
		op := byte('+')
		if strings.HasPrefix(t, "&") || strings.HasPrefix(t, "!") {
			op, t = t[0], strings.TrimSpace(t[1:])
		}
		if t == "" {
			return nil, fmt.Errorf("pattern %q has an empty part", pattern)
		}
		if strings.ContainsAny(t, "*?[") {
			if _, err := path.Match(t, ""); err != nil {
				return nil, fmt.Errorf("pattern %q: bad glob %q: %v", pattern, t, err)
			}
		}
		terms = append(terms, patternTerm{op: op, text: t})
	}
	return terms, nil
}

// checkPattern checks the syntax of a host pattern without an inventory.
func checkPattern(pattern string) error {
	_, err := parsePattern(pattern)
	return err
}

// Match returns the hosts that pattern selects, in inventory order. A
// pattern is one or more terms joined by ":" or ",":
//
//	all or *      every host
//	pg1           a host
//	db            a group (its hosts and its children's)
//	pg*           a glob (path.Match) over host and group names
//	a:b, a,b      union
//	a:&b          intersection
//	a:!b          exclusion
//
// Like Ansible, unions are taken first, then intersections, then
// exclusions, whatever their order; a pattern of only intersections and
// exclusions starts from every host, so that --limit '!pg1' means every host
// but pg1. A term that selects nothing is an error naming it, since it is
// almost always a typo; a pattern may still select no host (a:&b with
// disjoint groups), which is not an error.
func (inv *Inventory) Match(pattern string) ([]*Host, error) {
	if inv == nil {
		return nil, fmt.Errorf("match pattern %q: no inventory", pattern)
	}
	terms, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	sets := map[byte][][]string{}
	for _, t := range terms {
		hosts, err := inv.matchTerm(pattern, t.text)
		if err != nil {
			return nil, err
		}
		sets[t.op] = append(sets[t.op], hosts)
	}
	selected := map[string]bool{}
	if len(sets['+']) == 0 {
		sets['+'] = [][]string{inv.order()}
	}
	for _, hosts := range sets['+'] {
		for _, h := range hosts {
			selected[h] = true
		}
	}
	for _, hosts := range sets['&'] {
		for h := range maps.Clone(selected) {
			if !slices.Contains(hosts, h) {
				delete(selected, h)
			}
		}
	}
	for _, hosts := range sets['!'] {
		for _, h := range hosts {
			delete(selected, h)
		}
	}
	out := []*Host{}
	for _, name := range inv.order() {
		if selected[name] {
			out = append(out, inv.Hosts[name])
		}
	}
	return out, nil
}

// matchTerm returns the hosts one term selects.
func (inv *Inventory) matchTerm(pattern, term string) ([]string, error) {
	if term == "all" || term == "*" {
		return inv.order(), nil
	}
	if _, ok := inv.Hosts[term]; ok {
		return []string{term}, nil
	}
	if _, ok := inv.Groups[term]; ok {
		return inv.members(term), nil
	}
	var hosts []string
	if strings.ContainsAny(term, "*?[") {
		for name := range inv.Hosts {
			if ok, _ := path.Match(term, name); ok {
				hosts = append(hosts, name)
			}
		}
		for name := range inv.Groups {
			if ok, _ := path.Match(term, name); ok {
				hosts = append(hosts, inv.members(name)...)
			}
		}
	}
	if len(hosts) == 0 {
		if term == pattern {
			return nil, fmt.Errorf("pattern %q matches no host or group", term)
		}
		return nil, fmt.Errorf("pattern %q: %q matches no host or group", pattern, term)
	}
	return hosts, nil
}
