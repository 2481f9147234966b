package runbook

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// hostProblem is a problem found for one host; Validate merges the same
// problem found for several hosts into one line.
type hostProblem struct {
	pos  Pos
	step string
	host string
	msg  string
}

// Validate checks everything that can be checked before any host is
// contacted, and reports every problem at once as an ErrorList, each with
// file:line:col and the step's name. It checks that every term of the
// playbook's hosts pattern names something in inv; then for every host of
// hosts (nil means the hosts the pattern selects) it renders the variables of
// HostVars and, step by step, every template of the step (parameters,
// when, until, changed_when, failed_when, become, delegate_to), decodes the
// parameters into the step's kind with their types and runs the kind's
// Validator. A name registered by an earlier step stands in as a result
// with rc 0, empty output and every flag false; keys a step adds itself
// (its facts) cannot be known and are not checked. delegate_to must name
// an inventory host. A problem found for several hosts is reported once,
// naming them all.
func Validate(pb *Playbook, inv *Inventory, hosts []*Host, extra map[string]any) error {
	if pb == nil {
		return errors.New("validate: no playbook")
	}
	var errs ErrorList
	if inv == nil {
		errs.add(Pos{File: pb.File}, "", "no inventory to run on")
		return errs.err()
	}
	src := pb.src
	if src == nil {
		src = &playbookSource{hosts: Pos{File: pb.File}, become: Pos{File: pb.File}}
	}
	matched, err := inv.Match(pb.Hosts)
	if err != nil {
		errs.add(src.hosts, "", "hosts: %v", err)
	}
	if hosts == nil {
		hosts = matched
	}
	var problems []hostProblem
	for _, h := range hosts {
		vars, vp, failed := inv.hostVars(h, pb, extra)
		for _, p := range vp {
			p.host = h.Name
			problems = append(problems, p)
		}
		if _, err := Render(pb.Become, vars); err != nil {
			problems = append(problems, hostProblem{pos: src.become, host: h.Name, msg: "become: " + err.Error()})
		}
		registered := map[string]bool{}
		for _, s := range pb.Steps {
			for _, p := range validateStep(s, inv, vars, registered, failed) {
				p.host = h.Name
				problems = append(problems, p)
			}
			if s.Register != "" {
				vars[s.Register] = registeredStandIn()
				registered[s.Register] = true
			}
		}
	}
	// Problems quote rendered values and templates, which may hold a
	// password: mask them as the run's events are masked.
	return RunRedactor(pb, inv, hosts, extra).Error(append(errs, mergeHosts(problems)...).err())
}

// registeredStandIn is what a registered result looks like to Validate:
// the keys the executor always sets, with empty values.
func registeredStandIn() map[string]any {
	return registered(Outcome{}, "", false, false, false)
}

// mentionsRegistered reports whether expr reads a registered result. Such an
// expression can fail on the stand-in's empty values (an index into empty
// stdout_lines) where the real result would not, so only its undefined
// variables are worth reporting before the run.
func mentionsRegistered(expr string, registered map[string]bool) bool {
	for name := range registered {
		if strings.Contains(expr, "."+name) {
			return true
		}
	}
	return false
}

// validateStep renders and decodes one step for one host's vars.
func validateStep(s *Step, inv *Inventory, vars map[string]any, registered, failed map[string]bool) []hostProblem {
	// until, changed_when and failed_when are read after the step ran,
	// when its own result is registered already.
	after := vars
	withOwn := registered
	if s.Register != "" {
		after = maps.Clone(vars)
		after[s.Register] = registeredStandIn()
		withOwn = maps.Clone(registered)
		withOwn[s.Register] = true
	}
	var out []hostProblem
	report := func(pos Pos, prefix string, err error) {
		var undef *undefinedError
		if errors.As(err, &undef) {
			if first, _, nested := strings.Cut(undef.Name, "."); nested && withOwn[first] {
				return // a fact the registering step adds at run time
			}
			pos = s.Pos
			if failed[undef.Name] {
				err = fmt.Errorf("variable %q could not be rendered (see its own error)", undef.Name)
			}
		}
		out = append(out, hostProblem{pos: pos, step: s.Name, msg: prefix + err.Error()})
	}

	for _, c := range []struct {
		name, expr string
		vars       map[string]any
	}{
		{"when", s.When, vars}, {"until", s.Until, after},
		{"changed_when", s.ChangedWhen, after}, {"failed_when", s.FailedWhen, after},
	} {
		if c.expr == "" {
			continue
		}
		t, err := conditionTemplate(c.expr)
		if err == nil {
			_, err = execute(t, c.expr, c.vars)
		}
		var undef *undefinedError
		if err != nil && !errors.As(err, &undef) && mentionsRegistered(c.expr, withOwn) {
			continue
		}
		if err != nil {
			report(s.Pos, c.name+": ", err)
		}
	}
	if s.Become != nil {
		if _, err := Render(*s.Become, vars); err != nil {
			report(s.Pos, "become: ", err)
		}
	}
	if s.DelegateTo != "" {
		to, err := Render(s.DelegateTo, vars)
		switch {
		case err != nil:
			report(s.Pos, "delegate_to: ", err)
		case inv.Hosts[to] == nil:
			report(s.Pos, "", fmt.Errorf("delegate_to %q is not a host of the inventory", to))
		}
	}
	_, problems := s.decode(vars)
	for _, p := range problems {
		report(p.pos, "", p.err)
	}
	return out
}

// mergeHosts turns per-host problems into ParseErrors, one per distinct
// problem, naming every host that has it.
func mergeHosts(problems []hostProblem) ErrorList {
	type key struct {
		pos       Pos
		step, msg string
	}
	hosts := map[key][]string{}
	var order []key
	for _, p := range problems {
		k := key{p.pos, p.step, p.msg}
		if _, seen := hosts[k]; !seen {
			order = append(order, k)
		}
		if !slices.Contains(hosts[k], p.host) {
			hosts[k] = append(hosts[k], p.host)
		}
	}
	var out ErrorList
	for _, k := range order {
		hs := hosts[k]
		who := "host " + hs[0]
		if len(hs) > 1 {
			who = "hosts " + strings.Join(hs, ", ")
		}
		out.add(k.pos, k.step, "%s: %s", who, k.msg)
	}
	slices.SortStableFunc(out, func(a, b *ParseError) int { return cmp.Compare(a.Pos.Line, b.Pos.Line) })
	return out
}
