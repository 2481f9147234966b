package runbook

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// stepOptions are the keys every step may have besides its one kind key.
var stepOptions = []string{
	"name", "when", "register", "become", "tags", "retries", "delay", "until",
	"changed_when", "failed_when", "ignore_errors", "run_once", "delegate_to",
}

// stepOptionSet holds stepOptions for lookups.
var stepOptionSet = func() map[string]bool {
	m := map[string]bool{}
	for _, o := range stepOptions {
		m[o] = true
	}
	return m
}()

// steps parses the steps list; step names must be unique because
// --start-at-step, events and errors name steps.
func (f *yamlFile) steps(n *yaml.Node, kinds map[string]*Kind, errs *ErrorList) []*Step {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		errs.add(f.pos(n), "", "steps must be a list of steps, not %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		errs.add(f.pos(n), "", "playbook has no steps")
		return nil
	}
	var steps []*Step
	firstAt := map[string]Pos{}
	for i, item := range n.Content {
		s, namePos := f.step(deref(item), i+1, kinds, errs)
		if s == nil {
			continue
		}
		if s.Name != "" {
			if p, dup := firstAt[s.Name]; dup {
				errs.add(namePos, s.Name, "duplicate step name (first used at line %d); step names must be unique", p.Line)
			} else {
				firstAt[s.Name] = namePos
			}
		}
		steps = append(steps, s)
	}
	return steps
}

// step parses one step: its name, exactly one kind key and the common
// options. It returns the step and the position of its name.
func (f *yamlFile) step(n *yaml.Node, index int, kinds map[string]*Kind, errs *ErrorList) (*Step, Pos) {
	s := &Step{Pos: f.pos(n)}
	if n.Kind != yaml.MappingNode {
		errs.add(f.pos(n), "", "step %d must be a mapping with a name and one step kind, not %s", index, describe(n))
		return nil, Pos{}
	}
	var nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if deref(n.Content[i]).Value == "name" {
			nameNode = n.Content[i+1]
			break
		}
	}
	namePos := s.Pos
	if nameNode == nil {
		errs.add(s.Pos, "", "step %d has no name; every step needs a unique name", index)
	} else if name, ok := f.scalarString(nameNode, "name", "", errs); ok {
		namePos, s.Name = f.pos(nameNode), name
		if name == "" {
			errs.add(namePos, "", "step %d has an empty name; every step needs a unique name", index)
		}
	}
	pairs := f.pairs(n, "step", s.Name, errs)
	var found []yamlPair
	unknown := false
	for _, p := range pairs {
		if p.key == "name" {
			continue
		}
		if stepOptionSet[p.key] {
			f.stepOption(s, p, errs)
			continue
		}
		if _, ok := kinds[p.key]; ok {
			found = append(found, p)
			continue
		}
		errs.add(f.pos(p.keyN), s.Name, "unknown key %q in step (%s)", p.key, knownStepKeys(p.key, kinds))
		unknown = true
	}
	switch len(found) {
	case 0:
		if unknown {
			break // most likely the kind, misspelt: reported above
		}
		errs.add(s.Pos, s.Name, "step has no step kind (one of: %s)", strings.Join(slices.Sorted(maps.Keys(kinds)), ", "))
	case 1:
		s.Kind = kinds[found[0].key]
		s.Params = found[0].value
		f.checkParams(s.Kind, s.Params, s.Name, errs)
		f.checkTemplates(s.Params, s.Name, errs)
	default:
		names := make([]string, len(found))
		for i, p := range found {
			names[i] = p.key
		}
		errs.add(f.pos(found[1].keyN), s.Name, "step has %d step kinds (%s); a step has exactly one", len(found), strings.Join(names, ", "))
	}
	return s, namePos
}

// knownStepKeys lists what a step may contain, with a suggestion when the
// unknown key is a likely typo of one of them.
func knownStepKeys(unknown string, kinds map[string]*Kind) string {
	kindNames := slices.Sorted(maps.Keys(kinds))
	hint := "options: " + strings.Join(stepOptions, ", ") + "; kinds: " + strings.Join(kindNames, ", ")
	if s := closest(unknown, append(slices.Clone(stepOptions), kindNames...)); s != "" {
		return fmt.Sprintf("did you mean %q? %s", s, hint)
	}
	return hint
}

// stepOption parses one common option into s.
func (f *yamlFile) stepOption(s *Step, p yamlPair, errs *ErrorList) {
	switch p.key {
	case "when":
		s.When = f.condition(p, s.Name, errs)
	case "until":
		s.Until = f.condition(p, s.Name, errs)
	case "changed_when":
		s.ChangedWhen = f.condition(p, s.Name, errs)
	case "failed_when":
		s.FailedWhen = f.condition(p, s.Name, errs)
	case "register":
		if r, ok := f.scalarString(p.value, "register", s.Name, errs); ok {
			switch {
			case !isIdentifier(r):
				errs.add(f.pos(p.value), s.Name, "register %q is not an identifier (letters, digits, _)", r)
			case reservedVars[r]:
				errs.add(f.pos(p.value), s.Name, "register %q: the name is set by pgrunbook", r)
			default:
				s.Register = r
			}
		}
	case "become":
		if b, ok := f.become(p.value, s.Name, errs); ok {
			s.Become = b
		}
	case "tags":
		s.Tags = f.tags(p.value, s.Name, errs)
	case "retries":
		s.Retries = f.scalarInt(p.value, "retries", s.Name, errs)
	case "delay":
		s.Delay = f.delay(p.value, s.Name, errs)
	case "ignore_errors":
		s.IgnoreErrors = f.scalarBool(p.value, "ignore_errors", s.Name, errs)
	case "run_once":
		s.RunOnce = f.scalarBool(p.value, "run_once", s.Name, errs)
	case "delegate_to":
		if d, ok := f.scalarString(p.value, "delegate_to", s.Name, errs); ok {
			s.DelegateTo = d
			f.checkTemplates(p.value, s.Name, errs)
		}
	}
}

// condition reads a when/until/changed_when/failed_when expression and
// checks its syntax.
func (f *yamlFile) condition(p yamlPair, step string, errs *ErrorList) string {
	expr, ok := f.scalarString(p.value, p.key, step, errs)
	if !ok {
		return ""
	}
	if _, err := conditionTemplate(expr); err != nil {
		errs.add(f.pos(p.value), step, "%s: %v", p.key, err)
	}
	return expr
}

// tags reads a tag list: a list of strings, or one string of comma
// separated tags.
func (f *yamlFile) tags(n *yaml.Node, step string, errs *ErrorList) []string {
	n = deref(n)
	var raw []string
	switch n.Kind {
	case yaml.ScalarNode:
		if s, ok := f.scalarString(n, "tags", step, errs); ok {
			raw = strings.Split(s, ",")
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if s, ok := f.scalarString(item, "tags", step, errs); ok {
				raw = append(raw, s)
			}
		}
	default:
		errs.add(f.pos(n), step, "tags must be a string or a list of strings, not %s", describe(n))
	}
	var tags []string
	for _, t := range raw {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// delay reads a retry delay: a Go duration ("2s", "1m30s") or a whole
// number of seconds.
func (f *yamlFile) delay(n *yaml.Node, step string, errs *ErrorList) time.Duration {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!int" {
			if secs, err := strconv.Atoi(n.Value); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second
			}
		} else if d, err := time.ParseDuration(n.Value); err == nil && d >= 0 {
			return d
		}
	}
	errs.add(f.pos(n), step, "delay must be a duration such as 5s or a number of seconds, not %s", describe(n))
	return 0
}

// closest returns the candidate nearest to s by edit distance when it is
// near enough to be a typo, else "".
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > 2 || bestD > len(s)/2 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
