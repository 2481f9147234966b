package runbook

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkParams checks the keys of a step's parameters against the struct its
// kind decodes into, so that a misspelt parameter fails when the playbook is
// loaded, with its position, instead of being silently ignored (yaml.v3's
// KnownFields does not reach Node.Decode). Values are not checked here:
// they may hold templates, and Validate decodes them per host.
func (f *yamlFile) checkParams(k *Kind, n *yaml.Node, step string, errs *ErrorList) {
	n = deref(n)
	t := reflect.TypeOf(k.New())
	if n.Kind == yaml.ScalarNode && !isNull(n) && k.Scalar != "" {
		return
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) && structType(t) {
		errs.add(f.pos(n), step, "%s takes a mapping of parameters, not %s", k.Name, describe(n))
		return
	}
	var list ErrorList
	checkShape(n, t, k.Name, func(n *yaml.Node, format string, args ...any) {
		list.add(f.pos(n), step, format, args...)
	})
	*errs = append(*errs, list...)
}

// structType reports whether t (after pointers) is a struct decoded field by
// field, rather than a type with its own YAML decoding.
func structType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && !customDecoding(t)
}

var (
	yamlUnmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
)

// customDecoding reports whether yaml.v3 hands values of t to the type's own
// decoder, whose keys we cannot know.
func customDecoding(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	for _, c := range []reflect.Type{t, reflect.PointerTo(t)} {
		if c.Implements(yamlUnmarshalerType) || c.Implements(textUnmarshalerType) {
			return true
		}
	}
	return false
}

// checkShape walks node n alongside Go type t and reports every mapping key
// that t has no field for. where names the place for messages, such as
// "rewind" or "command.env".
func checkShape(n *yaml.Node, t reflect.Type, where string, report func(n *yaml.Node, format string, args ...any)) {
	n = deref(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || customDecoding(t) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !isNull(n) && !strings.Contains(n.Value, "{{") {
				report(n, "%s must be a mapping, not %s", where, describe(n))
			}
			return
		}
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				// A merge key (`<<: *defaults`) brings in the keys of
				// other mappings, which must fit the same struct.
				for _, m := range mergedMappings(v) {
					checkShape(m, t, where, report)
				}
				continue
			}
			ft, ok := fields.types[k.Value]
			if !ok && fields.rest == nil {
				report(k, "unknown key %q in %s (known: %s)", k.Value, where, strings.Join(fields.names, ", "))
				continue
			}
			if !ok {
				ft = fields.rest
			}
			checkShape(v, ft, where+"."+k.Value, report)
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				checkShape(n.Content[i+1], t.Elem(), where+"."+deref(n.Content[i]).Value, report)
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", where, i), report)
			}
		}
	}
}

// structFields are the YAML keys of a struct type, as yaml.v3 sees them.
type structFields struct {
	names []string                // in declaration order
	types map[string]reflect.Type // key -> field type
	rest  reflect.Type            // element type of an inline map, which takes any other key
}

// fieldsOf lists the YAML keys of struct type t the way yaml.v3 derives
// them: the name in the `yaml` tag, else the lowercased field name; "-" and
// unexported fields skipped; `,inline` structs and maps merged in.
func fieldsOf(t reflect.Type) structFields {
	sf := structFields{types: map[string]reflect.Type{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			field := t.Field(i)
			if field.PkgPath != "" && !field.Anonymous {
				continue
			}
			tag := field.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if hasOption(opts, "inline") {
				ft := field.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					walk(ft)
				case reflect.Map:
					sf.rest = ft.Elem()
				}
				continue
			}
			if field.PkgPath != "" {
				continue
			}
			if name == "" {
				name = strings.ToLower(field.Name)
			}
			if _, dup := sf.types[name]; !dup {
				sf.names = append(sf.names, name)
			}
			sf.types[name] = field.Type
		}
	}
	walk(t)
	return sf
}

// hasOption reports whether a comma separated tag option list holds opt.
func hasOption(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// reflectTypeOf is the dynamic type of an action.
func reflectTypeOf(a Action) reflect.Type { return reflect.TypeOf(a) }

// mergedMappings returns the mappings a merge key's value names: one
// mapping or alias, or a list of them.
func mergedMappings(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, e := range v.Content {
			out = append(out, deref(e))
		}
		return out
	}
	return []*yaml.Node{v}
}
