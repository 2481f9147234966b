package runbook

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// secretWords are the parts of a variable name that make its value a
// secret: db_password, PGPASSWORD, passwd, api_secret, vault_token.
var secretWords = []string{"password", "passwd", "secret", "token"}

// placeSuffixes end the names of variables that say where a secret is
// kept rather than hold it (password_file, secret_dir): their values are
// paths, which the operator needs to see.
var placeSuffixes = []string{"file", "_path", "_dir"}

// IsSecretName reports whether a variable of this name holds a secret: its
// name contains password, passwd, secret or token (in any case), and does
// not name a file or directory.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range placeSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// AddVars registers the secrets in a set of variables: the string value of
// every variable whose name IsSecretName, at any depth of maps, and the
// password of every connection string among the values, whatever the
// variable's name. The derived groups and hostvars are skipped: callers
// add the inventory's hosts one by one.
func (r *Redactor) AddVars(vars map[string]any) {
	for k, v := range vars {
		if k == "hostvars" || k == "groups" {
			continue
		}
		r.addValue(k, v)
	}
}

// addValue registers the secrets of one variable value under name.
func (r *Redactor) addValue(name string, v any) {
	switch v := v.(type) {
	case string:
		if IsSecretName(name) {
			r.AddSecret(v)
		}
		for _, p := range ConninfoPasswords(v) {
			r.AddSecret(p)
		}
	case map[string]any:
		for k, e := range v {
			r.addValue(k, e)
		}
	case []any:
		for _, e := range v {
			r.addValue(name, e)
		}
	}
}

// addNode registers the connection string passwords written literally in
// a step's parameters (templates are rendered later, from variables that
// AddVars has seen already).
func (r *Redactor) addNode(n *yaml.Node) {
	walkScalars(n, func(s *yaml.Node) {
		for _, p := range ConninfoPasswords(s.Value) {
			r.AddSecret(p)
		}
	})
}

// RunRedactor returns the Redactor of a run of pb on hosts: it knows the
// secrets of every host's merged variables (with extra, the -e variables),
// of every inventory host, and the connection string passwords written in
// the playbook's steps. The executor and Validate use it; callers that
// print anything else about the run (its error, say) should too.
func RunRedactor(pb *Playbook, inv *Inventory, hosts []*Host, extra map[string]any) *Redactor {
	r := NewRedactor()
	r.AddVars(extra)
	if pb != nil {
		r.AddVars(pb.Vars)
		for _, s := range pb.Steps {
			r.addNode(s.Params)
		}
	}
	if inv != nil {
		for _, h := range inv.Hosts {
			r.AddVars(h.Vars)
		}
		for _, g := range inv.Groups {
			r.AddVars(g.Vars)
		}
	}
	for _, h := range hosts {
		r.AddVars(inv.HostVars(h, pb, extra))
	}
	return r
}

// addRendered registers the connection string passwords of a step's
// parameters as rendered for one host: a conninfo template such as
// "host=db1 password={{ .pw }}" reveals its password only once rendered,
// when pw's name does not say it is a secret. Only templates that mention
// a password or a URI are rendered again; one that fails is the step's
// own error to report.
func (r *Redactor) addRendered(n *yaml.Node, vars map[string]any) {
	if r == nil {
		return
	}
	walkScalars(n, func(s *yaml.Node) {
		v := s.Value
		if !strings.Contains(v, "{{") || !(strings.Contains(strings.ToLower(v), "password") || strings.Contains(v, "://")) {
			return
		}
		out, err := Render(v, vars)
		if err != nil {
			return
		}
		for _, p := range ConninfoPasswords(out) {
			r.AddSecret(p)
		}
	})
}
