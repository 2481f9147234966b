package runbook

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// A yamlFile is one parsed YAML document with the name used in positions.
type yamlFile struct {
	name string
	root *yaml.Node // the document's content node, never the document node
}

// yamlLineRe finds the line number in yaml.v3's syntax errors, which come as
// "yaml: line 12: did not find expected key".
var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readYAML reads path and parses exactly one YAML document. Syntax errors
// become ParseErrors; yaml.v3 reports only the line, so the column is 1.
func readYAML(path, what string) (*yamlFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		pos := Pos{File: path, Line: 1, Col: 1}
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
			// yaml.v3 numbers lines from 0 in parser errors (all worded
			// "did not find expected ...") and from 1 in scanner errors.
			if strings.HasPrefix(msg, "did not find expected") {
				pos.Line++
			}
		}
		return nil, ErrorList{{Pos: pos, Msg: "yaml syntax: " + msg}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, ErrorList{{Pos: Pos{File: path, Line: 1, Col: 1}, Msg: what + " is empty"}}
	}
	if extra := secondDocument(data); extra > 0 {
		return nil, ErrorList{{Pos: Pos{File: path, Line: extra, Col: 1},
			Msg: "a " + what + " file holds one YAML document; found a second one"}}
	}
	return &yamlFile{name: path, root: doc.Content[0]}, nil
}

// secondDocument returns the line of a second YAML document in data, or 0.
// A decoder is used because yaml.Unmarshal silently ignores later documents.
func secondDocument(data []byte) int {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return 0
	}
	if err := dec.Decode(&second); err != nil || len(second.Content) == 0 {
		return 0
	}
	return max(second.Content[0].Line, 1)
}

// pos is the position of node n in the file.
func (f *yamlFile) pos(n *yaml.Node) Pos {
	return Pos{File: f.name, Line: n.Line, Col: n.Column}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is empty or an explicit null (`key:` or `key: ~`).
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// A yamlPair is one key and value of a mapping.
type yamlPair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// pairs returns the entries of mapping n in document order, after checking
// that n is a mapping (null counts as empty) and that no key repeats;
// problems go to errs and yield no pairs. what names the mapping in messages.
func (f *yamlFile) pairs(n *yaml.Node, what, step string, errs *ErrorList) []yamlPair {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		errs.add(f.pos(n), step, "%s must be a mapping, not %s", what, describe(n))
		return nil
	}
	seen := map[string]bool{}
	var out []yamlPair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			errs.add(f.pos(k), step, "%s has a key that is not a plain value", what)
			continue
		}
		if k.Value == "<<" {
			errs.add(f.pos(k), step, "merge keys (<<) are not supported in %s", what)
			continue
		}
		if seen[k.Value] {
			errs.add(f.pos(k), step, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		out = append(out, yamlPair{key: k.Value, keyN: k, value: v})
	}
	return out
}

// describe names the YAML shape of n for messages ("a list", "a string").
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "an unknown node"
}

// scalarString returns the text of a scalar value: strings, numbers and
// booleans are all accepted as their literal text.
func (f *yamlFile) scalarString(n *yaml.Node, what, step string, errs *ErrorList) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		errs.add(f.pos(n), step, "%s must be a string, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// scalarBool decodes a boolean value.
func (f *yamlFile) scalarBool(n *yaml.Node, what, step string, errs *ErrorList) bool {
	n = deref(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		errs.add(f.pos(n), step, "%s must be true or false, not %s", what, describe(n))
		return false
	}
	return b
}

// scalarInt decodes a non-negative integer value.
func (f *yamlFile) scalarInt(n *yaml.Node, what, step string, errs *ErrorList) int {
	n = deref(n)
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || i < 0 {
		errs.add(f.pos(n), step, "%s must be a whole number >= 0, not %s", what, describe(n))
		return 0
	}
	return i
}

// decodeVars decodes a mapping of variables into plain Go values (see
// nodeValue). Variable
// names must be identifiers so that templates can say `.name`, and the
// names pgrunbook sets itself are refused. It also returns where each
// variable is defined, for later error messages.
func (f *yamlFile) decodeVars(n *yaml.Node, what string, errs *ErrorList) (map[string]any, map[string]Pos) {
	vars := map[string]any{}
	where := map[string]Pos{}
	for _, p := range f.pairs(n, what, "", errs) {
		if !isIdentifier(p.key) {
			errs.add(f.pos(p.keyN), "", "variable name %q in %s is not an identifier (letters, digits, _)", p.key, what)
			continue
		}
		if reservedVars[p.key] {
			errs.add(f.pos(p.keyN), "", "variable %q in %s is set by pgrunbook and cannot be defined", p.key, what)
			continue
		}
		vars[p.key] = nodeValue(p.value)
		where[p.key] = f.pos(p.keyN)
	}
	return vars, where
}

// isIdentifier reports whether s can be used as `.s` in a template.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
