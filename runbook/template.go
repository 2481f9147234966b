package runbook

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"gopkg.in/yaml.v3"
)

// templateFuncs are the functions templates may call besides text/template's
// builtins. Their last argument is the piped value, so `{{ .x | quote }}`
// and `{{ .list | join "," }}` read naturally.
var templateFuncs = template.FuncMap{
	// default returns def when v is nil, "" or an empty list or map. false
	// and 0 are kept: they are real settings. A missing variable is an error
	// before default runs, so write `{{ index . "name" | default "x" }}` for
	// an optional one.
	"default": func(def, v any) any {
		if isEmptyValue(v) {
			return def
		}
		return v
	},
	// quote quotes a value for POSIX sh in single quotes, so that a path or
	// a password survives `sh -c` unchanged.
	"quote": func(v any) string { return shellQuote(fmt.Sprint(v)) },
	// join joins the elements of a list with sep.
	"join": func(sep string, list any) (string, error) {
		rv := reflect.ValueOf(list)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return "", fmt.Errorf("join: want a list, got %T", list)
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(rv.Index(i).Interface())
		}
		return strings.Join(parts, sep), nil
	},
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"upper": func(v any) string { return strings.ToUpper(fmt.Sprint(v)) },
	// replace replaces every old in s by new.
	"replace": func(old, new string, s any) string { return strings.ReplaceAll(fmt.Sprint(s), old, new) },
}

// isEmptyValue reports whether default should replace v.
func isEmptyValue(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// shellQuote quotes s for POSIX sh in single quotes, inside which nothing
// is expanded; each single quote of s closes the quoting, is written
// escaped, and reopens it.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// templates caches parsed templates by text: Validate renders the same
// texts for every host, and parsed templates are safe for concurrent use.
var templates sync.Map // string -> *template.Template

// parseTemplate parses text as a template with missingkey=error and our
// functions.
func parseTemplate(text string) (*template.Template, error) {
	if t, ok := templates.Load(text); ok {
		return t.(*template.Template), nil
	}
	t, err := template.New("t").Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %q: %s", text, trimTemplateError(err))
	}
	templates.Store(text, t)
	return t, nil
}

// templateErrorPrefix matches text/template's own prefix, which names our
// internal template name and is noise to an operator.
var templateErrorPrefix = regexp.MustCompile(`^template: t:\d+(:\d+)?: (executing "t" at )?`)

// trimTemplateError removes text/template's prefix from err's text.
func trimTemplateError(err error) string {
	return templateErrorPrefix.ReplaceAllString(err.Error(), "")
}

// undefinedError reports a template that uses a variable no level defines.
type undefinedError struct {
	// Name is the variable, with the path to it when it is nested ("r.rc").
	Name string
}

func (e *undefinedError) Error() string { return fmt.Sprintf("variable %q is not defined", e.Name) }

// missingKeyRe picks the expression and key out of text/template's
// missingkey=error message.
var missingKeyRe = regexp.MustCompile(`at <([^>]*)>: map has no entry for key "([^"]*)"`)

// Render renders text as a Go text/template with missingkey=error and the
// functions default, quote, join, lower, upper and replace. Text without
// "{{" is returned as is. A variable that is not defined is an error that
// names it: `variable "new_primary" is not defined`.
func Render(text string, vars map[string]any) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := parseTemplate(text)
	if err != nil {
		return "", err
	}
	return execute(t, text, vars)
}

// execute runs a parsed template and turns its errors into readable ones.
func execute(t *template.Template, text string, vars map[string]any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		if m := missingKeyRe.FindStringSubmatch(err.Error()); m != nil {
			return "", &undefinedError{Name: variablePath(m[1], m[2])}
		}
		return "", fmt.Errorf("template %q: %s", text, trimTemplateError(err))
	}
	return b.String(), nil
}

// variablePath names a missing key by its path in a field chain: for
// `.hostvars.pg9.address` missing "pg9" it is "hostvars.pg9".
func variablePath(expr, key string) string {
	expr = strings.TrimPrefix(strings.TrimPrefix(expr, "$"), ".")
	parts := strings.Split(expr, ".")
	for i, p := range parts {
		if p == key {
			return strings.Join(parts[:i+1], ".")
		}
	}
	return key
}

// conditionTemplate parses a condition: a template pipeline without braces
// (`eq .r.rc 0`), or a full template when it contains "{{".
func conditionTemplate(expr string) (*template.Template, error) {
	text := strings.TrimSpace(expr)
	if text == "" {
		return nil, errors.New("empty condition")
	}
	if !strings.Contains(text, "{{") {
		text = "{{ " + text + " }}"
	}
	return parseTemplate(text)
}

// EvalCondition evaluates a when/until/changed_when/failed_when condition
// with vars. The condition is a template pipeline without braces, such as
// `eq .r.rc 0`, `.r.changed`, `not .r.changed` or
// `and (eq .role "primary") .go`; text containing "{{" is a full template.
// The rendered text, trimmed of spaces, decides: "true" is true, "false"
// and "" are false, and anything else is an error naming the text, because
// a condition that is neither is a mistake better caught than guessed.
// An empty condition is an error too: callers treat an absent condition
// themselves (no when means always).
func EvalCondition(expr string, vars map[string]any) (bool, error) {
	t, err := conditionTemplate(expr)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", expr, err)
	}
	out, err := execute(t, expr, vars)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", expr, err)
	}
	switch strings.TrimSpace(out) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, fmt.Errorf("condition %q gave %q, not true or false", expr, strings.TrimSpace(out))
}

// checkTemplates parses every template in the values of n (not in mapping
// keys, which are never rendered) and reports syntax errors at their place.
func (f *yamlFile) checkTemplates(n *yaml.Node, step string, errs *ErrorList) {
	walkScalars(n, func(s *yaml.Node) {
		if strings.Contains(s.Value, "{{") {
			if _, err := parseTemplate(s.Value); err != nil {
				errs.add(f.pos(s), step, "%v", err)
			}
		}
	})
}

// walkScalars calls fn for every scalar value under n, skipping mapping
// keys.
func walkScalars(n *yaml.Node, fn func(*yaml.Node)) {
	n = deref(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fn(n)
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walkScalars(n.Content[i], fn)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			walkScalars(c, fn)
		}
	}
}

// templateNames returns the top-level variable names a template refers to
// as `.name` or `$.name`, for ordering the rendering of variables that use
// other variables. Names reached through index or hostvars are not seen.
func templateNames(text string) []string {
	t, err := parseTemplate(text)
	if err != nil || t.Tree == nil {
		return nil
	}
	var names []string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			names = append(names, n.Ident[0])
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				names = append(names, n.Ident[1])
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	walk(t.Tree.Root)
	return names
}
