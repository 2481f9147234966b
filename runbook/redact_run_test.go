package runbook

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// markAction stands for a step that learns a secret on the host (say,
// reads a password file), marks it, and then prints it.
type markAction struct {
	Secret string `yaml:"secret"`
}

func (a *markAction) Run(_ context.Context, t *Target) (Outcome, error) {
	t.MarkSecret(a.Secret)
	t.Output("stdout", "read "+a.Secret)
	return Outcome{Msg: "got " + a.Secret}, nil
}

// redactFiles writes an inventory and a playbook whose variables, steps
// and outputs carry secrets of every kind the executor masks.
func redactFiles(t *testing.T) (inv, pb string) {
	dir := t.TempDir()
	files := map[string]string{
		"inventory.yml": `
all:
  vars: {vault_token: InvToken42}
  hosts:
    pg1: {address: 10.77.0.11, db_password: HostPw1234, pw: RenderedPw11}
    pg2: {address: 10.77.0.12, db_password: HostPw5678, pw: RenderedPw22}
`,
		"playbook.yml": `
name: secrets
hosts: all
vars:
  source: "host=db1 user=rewind password=ConnPw9876"
steps:
  - name: print them
    fake:
      id: print
      lines:
        - "token {{ .vault_token }} own {{ .db_password }} extra {{ .extra_secret }}"
        - "other host HostPw1234 HostPw5678"
        - "{{ .source }}"
        - "literal ConnPwLiteral"
        - "postgres://u:UriPw4321@db1/x"
      msg: "done with {{ .db_password }}"
      diff: true
      progress: true
  - name: use a literal conninfo
    fake: {id: literal, echo: "host=db2 password=ConnPwLiteral"}
  - name: a conninfo made of a template
    fake: {id: made, echo: "host=db3 password={{ .pw }}", lines: ["server said {{ .pw }}"]}
  - name: mark one
    mark: {secret: MarkedPw777}
  - name: print it later
    fake: {id: later, lines: ["again MarkedPw777"], fail_on: [pg1], msg: "MarkedPw777 failed"}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "inventory.yml"), filepath.Join(dir, "playbook.yml")
}

var runSecrets = []string{"InvToken42", "HostPw1234", "HostPw5678", "ConnPw9876", "ConnPwLiteral", "UriPw4321", "MarkedPw777", "ExtraPw000", "RenderedPw11", "RenderedPw22"}

// TestRunRedactsEvents runs a playbook whose steps print every kind of
// secret and finds none in the events, while the innocent text around them
// is kept.
func TestRunRedactsEvents(t *testing.T) {
	invFile, pbFile := redactFiles(t)
	lab := newFakeLab()
	kinds := []*Kind{fakeKind(lab), {Name: "mark", New: func() Action { return &markAction{} }}}
	inv, err := LoadInventory(invFile)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook(pbFile, kinds)
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]any{"extra_secret": "ExtraPw000"}
	var events []Event
	_, err = Run(context.Background(), RunOptions{Playbook: pb, Inventory: inv, Extra: extra, Diff: true,
		Connect: lab.connect, Events: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	all := string(b)
	for _, s := range runSecrets {
		if strings.Contains(all, s) {
			t.Errorf("%s is in the events", s)
		}
	}
	for _, keep := range []string{"token xxxxx own xxxxx extra xxxxx", "host=db1 user=rewind password=xxxxx",
		"postgres://u:xxxxx@db1/x", "literal xxxxx", "server said xxxxx", "read xxxxx", "again xxxxx", `"msg":"xxxxx failed"`, "done with xxxxx"} {
		if !strings.Contains(all, keep) {
			t.Errorf("events lack %q:\n%s", keep, all)
		}
	}
	// What the steps saw was not masked: only what the operator sees is.
	if r, ok := lab.find("pg1", "literal"); !ok || r.Echo != "host=db2 password=ConnPwLiteral" {
		t.Errorf("the step saw %q", r.Echo)
	}
}

// TestValidateRedacts checks that a problem which quotes a rendered value
// does not show a secret.
func TestValidateRedacts(t *testing.T) {
	dir := t.TempDir()
	pbFile := filepath.Join(dir, "pb.yml")
	text := `
name: bad jobs
hosts: all
vars: {api_secret: "SecretJobs1"}
steps:
  - name: rewind
    fake_rewind: {pgdata: /d, jobs: "{{ .api_secret }}", source_server: "host=x password=LitPw2468 {{ .nope.x }}"}
`
	if err := os.WriteFile(pbFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook(pbFile, ptKinds())
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(pb, inv, nil, map[string]any{"nope": "x"})
	if err == nil {
		t.Fatal("Validate accepted jobs that are not a number")
	}
	var list ErrorList
	if !errorsAs(err, &list) {
		t.Errorf("Validate's error is %T, want an ErrorList", err)
	}
	// The template's text is quoted in the problem: its literal password
	// must be masked.
	if msg := err.Error(); strings.Contains(msg, "SecretJobs1") || strings.Contains(msg, "LitPw2468") || !strings.Contains(msg, "password=xxxxx") {
		t.Errorf("Validate: %v", err)
	}
	if _, err := ParseExtraVars([]string{"bad.name=ExtraPw000"}); err == nil || strings.Contains(err.Error(), "ExtraPw000") {
		t.Errorf("ParseExtraVars: %v", err)
	}
}

func errorsAs(err error, list *ErrorList) bool {
	l, ok := err.(ErrorList)
	*list = l
	return ok
}
