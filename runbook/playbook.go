package runbook

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// playbookSource remembers where parts of a playbook were written, so that
// problems found later (by Validate, per host) still point at a line.
type playbookSource struct {
	hosts  Pos
	become Pos
	vars   map[string]Pos
}

// playbookKeys are the keys a playbook may have at its top level.
var playbookKeys = []string{"name", "hosts", "become", "vars", "serial", "max_fail_percentage", "steps"}

// LoadPlaybook reads and strictly parses a playbook file: one play per
// file, a mapping with the keys name, hosts, become, vars, serial,
// max_fail_percentage and steps. kinds are the step kinds a step may use;
// each step's parameter keys are checked against its kind's parameter
// struct. Every problem of the file is reported at once, as an ErrorList of
// ParseErrors with file:line:col and the step's name; templates are only
// checked for syntax here, since variables are per host (see Validate).
func LoadPlaybook(path string, kinds []*Kind) (*Playbook, error) {
	byName, err := kindIndex(kinds)
	if err != nil {
		return nil, err
	}
	f, err := readYAML(path, "playbook")
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	pb := f.playbook(byName, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return pb, nil
}

// kindIndex maps kind names to kinds, refusing names that would be read as
// a common step option.
func kindIndex(kinds []*Kind) (map[string]*Kind, error) {
	byName := make(map[string]*Kind, len(kinds))
	for _, k := range kinds {
		if k == nil || k.New == nil || k.New() == nil {
			return nil, fmt.Errorf("load playbook: step kind %v has no constructor", k)
		}
		if stepOptionSet[k.Name] {
			return nil, fmt.Errorf("load playbook: step kind %q has the name of a step option", k.Name)
		}
		byName[k.Name] = k
	}
	return byName, nil
}

// playbook parses the top-level mapping.
func (f *yamlFile) playbook(kinds map[string]*Kind, errs *ErrorList) *Playbook {
	pb := &Playbook{File: f.name, src: &playbookSource{vars: map[string]Pos{}}}
	root := deref(f.root)
	switch root.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		errs.add(f.pos(root), "", "a playbook is one play, a mapping with %s; not a list of plays", strings.Join(playbookKeys, ", "))
		return pb
	default:
		errs.add(f.pos(root), "", "a playbook is a mapping with %s, not %s", strings.Join(playbookKeys, ", "), describe(root))
		return pb
	}
	var hostsSeen, stepsSeen bool
	for _, p := range f.pairs(root, "playbook", "", errs) {
		switch p.key {
		case "name":
			pb.Name, _ = f.scalarString(p.value, "name", "", errs)
		case "hosts":
			hostsSeen = true
			pb.src.hosts = f.pos(p.value)
			if s, ok := f.scalarString(p.value, "hosts", "", errs); ok {
				pb.Hosts = s
				if err := checkPattern(s); err != nil {
					errs.add(f.pos(p.value), "", "hosts: %v", err)
				}
			}
		case "become":
			pb.src.become = f.pos(p.value)
			if b, ok := f.become(p.value, "", errs); ok {
				pb.Become = *b
			}
		case "vars":
			pb.Vars, pb.src.vars = f.decodeVars(p.value, "vars", errs)
			f.checkTemplates(p.value, "", errs)
		case "serial":
			pb.Serial = f.serial(p.value, errs)
		case "max_fail_percentage":
			pb.MaxFailPercentage = f.maxFail(p.value, errs)
		case "steps":
			stepsSeen = true
			pb.Steps = f.steps(p.value, kinds, errs)
		default:
			errs.add(f.pos(p.keyN), "", "unknown key %q in playbook (known: %s)", p.key, strings.Join(playbookKeys, ", "))
		}
	}
	if !hostsSeen {
		errs.add(f.pos(root), "", "playbook has no hosts (an inventory pattern such as all or a group name)")
	}
	if !stepsSeen {
		errs.add(f.pos(root), "", "playbook has no steps")
	}
	return pb
}

// serial parses a batch size: a whole number N > 0 or a percentage "P%"
// with 0 < P <= 100. It returns the normalised text ("3", "50%").
func (f *yamlFile) serial(n *yaml.Node, errs *ErrorList) string {
	n = deref(n)
	s := n.Value
	if err := CheckSerial(s); n.Kind != yaml.ScalarNode || err != nil {
		errs.add(f.pos(n), "", "serial must be a number of hosts N or a percentage P%%, not %s", describe(n))
		return ""
	}
	return s
}

// CheckSerial reports whether s is a valid batch size: a whole number
// N > 0 or a percentage "P%" with 0 < P <= 100. The run command uses it for
// --serial so that the flag and the playbook key accept the same texts.
func CheckSerial(s string) error {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 {
			return fmt.Errorf("serial %q: want a percentage above 0 and at most 100", s)
		}
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("serial %q: want a number of hosts above 0 or a percentage P%%", s)
	}
	return nil
}

// maxFail parses max_fail_percentage, a number from 0 to 100.
func (f *yamlFile) maxFail(n *yaml.Node, errs *ErrorList) *float64 {
	n = deref(n)
	var v float64
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&v) != nil || v < 0 || v > 100 {
		errs.add(f.pos(n), "", "max_fail_percentage must be a number from 0 to 100, not %s", describe(n))
		return nil
	}
	return &v
}

// become parses a become value: an OS user name, or false or "" for the
// login user. true is refused because it does not say which user.
func (f *yamlFile) become(n *yaml.Node, step string, errs *ErrorList) (*string, bool) {
	n = deref(n)
	empty := ""
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if n.Value == "false" || n.Value == "False" || n.Value == "FALSE" {
			return &empty, true
		}
		errs.add(f.pos(n), step, "become names the OS user to run as (e.g. postgres), or false for the login user; true does not say which user")
		return nil, false
	}
	s, ok := f.scalarString(n, "become", step, errs)
	if !ok {
		return nil, false
	}
	f.checkTemplates(n, step, errs)
	return &s, true
}
