package runbook

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// posError is a problem with a step's parameters at a place in the file.
type posError struct {
	pos Pos
	err error
}

// Action renders the step's parameters with vars and decodes them into a
// fresh action of the step's kind. Every string value containing "{{" is
// rendered (mapping keys never are); a rendered value is re-read as a YAML
// scalar so that "{{ .port }}" can fill an int field, and stays a string
// otherwise. Decoding is strict: a key the kind does not know is an error.
// When the action implements Validator, its Validate runs too. Errors are
// an ErrorList with the place of each problem and the step's name.
func (s *Step) Action(vars map[string]any) (Action, error) {
	act, problems := s.decode(vars)
	if len(problems) > 0 {
		var l ErrorList
		for _, p := range problems {
			l.add(p.pos, s.Name, "%v", p.err)
		}
		return nil, l.err()
	}
	return act, nil
}

// decode does the work of Action and keeps each problem's error value, so
// that Validate can tell a missing variable from a type error.
func (s *Step) decode(vars map[string]any) (Action, []posError) {
	if s.Kind == nil {
		return nil, []posError{{s.Pos, errors.New("step has no step kind")}}
	}
	var problems []posError
	n := s.renderNode(s.Params, vars, &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) && s.Kind.Scalar != "" {
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Kind.Scalar, Line: n.Line, Column: n.Column}
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: []*yaml.Node{key, n}}
	}
	act := s.Kind.New()
	if n.Kind == yaml.ScalarNode && !isNull(n) && structType(reflectTypeOf(act)) {
		return nil, []posError{{s.pos(n), fmt.Errorf("%s takes a mapping of parameters, not %s", s.Kind.Name, describe(n))}}
	}
	checkShape(n, reflectTypeOf(act), s.Kind.Name, func(at *yaml.Node, format string, args ...any) {
		problems = append(problems, posError{s.pos(at), fmt.Errorf(format, args...)})
	})
	if len(problems) > 0 {
		return nil, problems
	}
	if !isNull(n) {
		if err := n.Decode(act); err != nil {
			return nil, s.decodeErrors(n, err)
		}
	}
	if v, ok := act.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, []posError{{s.Pos, fmt.Errorf("%s: %w", s.Kind.Name, err)}}
		}
	}
	return act, nil
}

// pos is the place of a parameter node in the step's file.
func (s *Step) pos(n *yaml.Node) Pos {
	return Pos{File: s.Pos.File, Line: n.Line, Col: n.Column}
}

// renderNode returns a deep copy of n with its templates rendered. Aliases
// are copied out so that rendering one use never changes another.
func (s *Step) renderNode(n *yaml.Node, vars map[string]any, problems *[]posError) *yaml.Node {
	n = deref(n)
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	c := *n
	c.Content = nil
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			out, err := Render(n.Value, vars)
			if err != nil {
				*problems = append(*problems, posError{s.pos(n), err})
				return &c
			}
			c.Value, c.Tag, c.Style = out, scalarTag(out), 0
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := *deref(n.Content[i])
			c.Content = append(c.Content, &k, s.renderNode(n.Content[i+1], vars, problems))
		}
	default:
		for _, e := range n.Content {
			c.Content = append(c.Content, s.renderNode(e, vars, problems))
		}
	}
	return &c
}

// scalarTag is the tag a rendered value gets: a number when it is a plain
// decimal number, a boolean when it reads as one (so that it can fill such
// a field; a string field takes it as text anyway), else a string. Octal,
// hexadecimal and null readings are left out on purpose: a rendered "0700"
// or "null" stays the text the template produced.
func scalarTag(text string) string {
	switch {
	case decimalIntRe.MatchString(text):
		return "!!int"
	case decimalFloatRe.MatchString(text):
		return "!!float"
	case (&yaml.Node{Kind: yaml.ScalarNode, Value: text}).ShortTag() == "!!bool":
		return "!!bool"
	}
	return "!!str"
}

var (
	decimalIntRe   = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	decimalFloatRe = regexp.MustCompile(`^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$`)
)

// typeErrorLineRe picks the line out of one of yaml.TypeError's messages,
// "line 12: cannot unmarshal !!str `abc` into int".
var typeErrorLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeErrors turns yaml's decoding errors into positioned problems that
// name the parameter: `rewind.jobs: want int, got a string`. yaml quotes the
// start of the offending value, which may be a rendered password, so the
// value is left out; the template it came from is named instead.
func (s *Step) decodeErrors(n *yaml.Node, err error) []posError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []posError{{s.pos(n), fmt.Errorf("decode %s parameters: %s", s.Kind.Name, typeErrorValueRe.ReplaceAllString(err.Error(), ""))}}
	}
	var out []posError
	for _, msg := range te.Errors {
		pos, where := s.pos(n), s.Kind.Name
		// The quoted value tells apart two values on one line
		// ({pgdata: /d, jobs: abc}); it is used to find the node, never
		// shown.
		quoted := strings.Trim(strings.TrimSpace(typeErrorValueRe.FindString(msg)), "`")
		msg = typeErrorValueRe.ReplaceAllString(msg, "")
		if m := typeErrorLineRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			msg = m[2]
			tag := ""
			if u := unmarshalRe.FindStringSubmatch(msg); u != nil {
				tag, msg = u[1], fmt.Sprintf("want %s, got %s", u[2], tagNames[u[1]])
			}
			at := firstOnLine(n, line, tag, quoted)
			pos = s.pos(at)
			if p := paramPath(n, at); p != "" {
				where += "." + p
			}
			if src := sameNode(s.Params, n, at); src != nil && strings.Contains(src.Value, "{{") {
				msg += fmt.Sprintf(" (the value of %q)", src.Value)
			}
		}
		out = append(out, posError{pos, fmt.Errorf("%s: %s", where, msg)})
	}
	return out
}

var (
	// typeErrorValueRe matches the quoted value in yaml's "cannot
	// unmarshal !!str `secret` into int".
	typeErrorValueRe = regexp.MustCompile(" `[^`]*`")
	// unmarshalRe reads yaml's "cannot unmarshal !!str into int" once the
	// value is cut out.
	unmarshalRe = regexp.MustCompile(`^cannot unmarshal (!!\w+) into (.+)$`)
	tagNames    = map[string]string{
		"!!str": "a string", "!!int": "a number", "!!float": "a number", "!!bool": "a boolean",
		"!!map": "a mapping", "!!seq": "a list", "!!null": "null", "!!timestamp": "a timestamp",
	}
)

// quotes reports whether yaml's quote of a value in an error message
// (the value itself, or its first 7 bytes and "..." when longer than 10)
// is of v; an empty quote matches anything.
func quotes(quote, v string) bool {
	if quote == "" {
		return true
	}
	if short, ok := strings.CutSuffix(quote, "..."); ok && len(v) > 10 {
		return strings.HasPrefix(v, short)
	}
	return quote == v
}

// paramPath is the dotted path of the value node target inside n, such as
// "opts.debug" or "targets[1].path", or "" when target is n itself.
func paramPath(n, target *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, v := n.Content[i].Value, n.Content[i+1]
			if v == target {
				return key
			}
			if p := paramPath(v, target); p != "" {
				return key + joinPath(p)
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if v == target {
				return fmt.Sprintf("[%d]", i)
			}
			if p := paramPath(v, target); p != "" {
				return fmt.Sprintf("[%d]", i) + joinPath(p)
			}
		}
	}
	return ""
}

// sameNode returns the node of the unrendered tree orig that sits where
// target sits in the rendered copy rendered, or nil.
func sameNode(orig, rendered, target *yaml.Node) *yaml.Node {
	orig = deref(orig)
	if rendered == target {
		return orig
	}
	if orig == nil || len(orig.Content) != len(rendered.Content) {
		return nil
	}
	for i := range rendered.Content {
		if found := sameNode(orig.Content[i], rendered.Content[i], target); found != nil {
			return found
		}
	}
	return nil
}

// joinPath prefixes a nested path with a dot unless it is an index.
func joinPath(p string) string {
	if strings.HasPrefix(p, "[") {
		return p
	}
	return "." + p
}

// firstOnLine finds the value node under n on line whose tag is tag (any
// tag when tag is ""), the most deeply nested one first, or a stand-in at
// the start of the line. yaml reports only the line of a type error; the
// tag and the depth tell apart the values written on one line, such as a
// block list item `- path: [a]` whose list starts on the item's line.
func firstOnLine(n *yaml.Node, line int, tag, value string) *yaml.Node {
	var found *yaml.Node
	foundDepth := -1
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil {
			return
		}
		if n.Line == line && (tag == "" || n.ShortTag() == tag) && quotes(value, n.Value) && depth > foundDepth {
			found, foundDepth = n, depth
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i], depth+1)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, depth+1)
			}
		}
	}
	walk(n, 0)
	if found == nil && value != "" {
		return firstOnLine(n, line, tag, "")
	}
	if found == nil && tag != "" {
		return firstOnLine(n, line, "", "")
	}
	if found == nil {
		return &yaml.Node{Line: line, Column: 1}
	}
	return found
}
