package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// secretsPlaybook prints secrets on purpose: a command echoes them, a
// query connects with the password in a URI, a condition renders to the
// password, and a failing command writes a conninfo to stderr.
const secretsPlaybook = `name: secrets in output
hosts: old_primary
become: postgres
vars:
  new_primary_address: "{{ (index .hostvars .new_primary).address }}"
  new_primary_port: "{{ (index .hostvars .new_primary).pg_port }}"
steps:
  - name: echo the secret variables
    command: "echo token {{ .api_token }} and {{ .db_password }}"
  - name: query over a URI with the password
    sql:
      conninfo: "postgres://{{ .rewind_user }}:{{ .db_password }}@{{ .new_primary_address }}:{{ .new_primary_port }}/postgres"
      query: "SELECT current_user"
  - name: a condition that renders the password
    command: "true"
    when: .db_password
    ignore_errors: true
  - name: a failing command prints a conninfo
    command: "echo host=x password={{ .db_password }} >&2; echo {{ .api_token }} >&2; exit 3"
    ignore_errors: true
`

// argvSampler records the command line of every process of this machine
// (the lab's hosts share its process table) while a run goes on, so that
// a test can look for a password in any remote process's argv.
type argvSampler struct {
	mu    sync.Mutex
	seen  map[string]bool
	stop  chan struct{}
	ended chan struct{}
}

func sampleArgv() *argvSampler {
	s := &argvSampler{seen: map[string]bool{}, stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		for {
			s.scan()
			select {
			case <-s.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *argvSampler) scan() {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		line := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		s.mu.Lock()
		s.seen[line] = true
		s.mu.Unlock()
	}
}

// done stops sampling and returns every command line seen.
func (s *argvSampler) done() []string {
	close(s.stop)
	<-s.ended
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.seen))
	for l := range s.seen {
		out = append(out, l)
	}
	return out
}

// randomToken returns a string that occurs nowhere by chance.
func randomToken(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("tok%x", b)
}

// TestSecretsNeverLeak runs the drill and the rejoin through a bastion with
// the rewind role's password written in every connection string (the
// rewind's and staging's source, verify's primary, the standby's
// primary_conninfo), in -e variables and in the inventory, with JSON and
// text output, --check --diff and for real, then a playbook that prints
// secrets on purpose and one that does not parse. The password and the
// token occur in no output, no event, no error, no report file, and no
// command line of any process that ran meanwhile.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	password, err := lab.RewindPassword()
	if err != nil {
		t.Fatal(err)
	}
	token := randomToken(t)
	c := lab.Clusters[0]
	newp := lab.Host(c.NewPrimary())
	conninfo := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres password=%s", newp.Address, testenv.PGPort, testenv.RewindRole, password)
	reports := t.TempDir()
	opts := runOptions{inventory: lab.Inventory, forks: 5, output: "json", extra: []string{
		"engine_binary=" + rejoinEngine(t),
		"report_dir=" + reports,
		"source=" + conninfo,
		"primary=" + conninfo,
		"primary_conninfo=" + conninfo + " application_name=" + c.Primary,
		"db_password=" + password,
		"api_token=" + token,
	}}

	// Everything the operator could see is collected here.
	var seen []string
	run := func(o runOptions, playbook string) ([]byte, error) {
		var out bytes.Buffer
		err := runRun(ctx, o, []string{playbook}, &out)
		seen = append(seen, out.String())
		if err != nil {
			seen = append(seen, err.Error())
		}
		return out.Bytes(), err
	}
	mustRun := func(o runOptions, playbook string) []byte {
		t.Helper()
		out, err := run(o, playbook)
		if err != nil {
			shown := strings.NewReplacer(password, "<password>", token, "<token>").Replace(string(out))
			t.Fatalf("run %s: %v\n%s", filepath.Base(playbook), strings.NewReplacer(password, "<password>").Replace(err.Error()), shown)
		}
		return out
	}

	mustRun(opts, drillPlaybook)
	argv := sampleArgv()
	check := opts
	check.check, check.diff = true, true
	check.output = "json"
	mustRun(check, rejoinPlaybook)
	check.output = "text"
	mustRun(check, rejoinPlaybook)
	real := opts
	real.diff, real.output = true, "json"
	ends := stepEnds(t, mustRun(real, rejoinPlaybook))
	commands := argv.done()
	if e := ends[c.Primary+"/"+stepRewind]; e.Status != "changed" {
		t.Errorf("rewind: %s (%s), want changed", e.Status, e.Msg)
	}
	if e := ends[c.Primary+"/"+stepVerify]; e.Status != "ok" {
		t.Errorf("verify: %s (%s), want ok", e.Status, e.Msg)
	}
	checkRejoined(t, ctx, lab, c)
	again := opts
	again.output = "text"
	mustRun(again, rejoinPlaybook)

	// The standby needs the password on disk; only its owner may read it.
	auto := filepath.Join(lab.Host(c.Primary).Dirs.DataDir, "postgresql.auto.conf")
	if b, err := os.ReadFile(auto); err != nil || !strings.Contains(string(b), password) {
		t.Errorf("%s does not hold primary_conninfo's password (%v)", auto, err)
	} else if fi, err := os.Stat(auto); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s: mode %v, want no access for group and others", auto, fi.Mode())
	}

	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets.yml")
	broken := filepath.Join(dir, "broken.yml")
	brokenText := "name: broken\nhosts: old_primary\nsteps:\n  - name: bad template\n    command: \"psql 'host=x password=" + password + "' {{ .x\"\n"
	if err := os.WriteFile(secrets, []byte(secretsPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(brokenText), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, output := range []string{"json", "text"} {
		o := opts
		o.output = output
		out, err := run(o, secrets)
		if err != nil {
			t.Errorf("run secrets.yml: %v", strings.NewReplacer(password, "<password>", token, "<token>").Replace(err.Error()))
		}
		if !strings.Contains(string(out), "token xxxxx and xxxxx") || !strings.Contains(string(out), "gave \\\"xxxxx\\\"") && !strings.Contains(string(out), `gave "xxxxx"`) {
			shown := strings.NewReplacer(password, "<password>", token, "<token>").Replace(string(out))
			t.Errorf("secrets.yml --output %s: the secrets are not shown masked:\n%s", output, shown)
		}
	}
	if _, err := run(opts, broken); err == nil || !strings.Contains(err.Error(), "password=xxxxx") {
		t.Errorf("broken.yml: %v, want a parse error with the password masked", strings.NewReplacer(password, "<password>").Replace(fmt.Sprint(err)))
	}

	var files int
	filepath.Walk(reports, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
		}
		files++
		seen = append(seen, string(b))
		return nil
	})
	if files < 2 {
		t.Errorf("%d report files in %s, want the staging and the rewind reports", files, reports)
	}

	for i, s := range seen {
		for name, secret := range map[string]string{"password": password, "token": token} {
			if at := strings.Index(s, secret); at >= 0 {
				// The test's own log must not show it either.
				around := s[max(0, at-200):min(len(s), at+len(secret)+50)]
				t.Errorf("the %s is in output %d: ...%s...", name, i, strings.ReplaceAll(around, secret, "<"+name+">"))
			}
		}
	}
	var engineSeen bool
	for _, l := range commands {
		if strings.Contains(l, "--source-server") {
			engineSeen = true
		}
		if strings.Contains(l, password) {
			t.Errorf("the password is in a command line: %s", strings.ReplaceAll(l, password, "<password>"))
		}
	}
	if !engineSeen {
		t.Errorf("no engine command line (--source-server) among the %d sampled: the sampler missed the rewind", len(commands))
	}
}
