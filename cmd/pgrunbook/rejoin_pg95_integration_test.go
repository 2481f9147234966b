package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/steps/pgconf"
)

// pg95Fixture is a 9.5-shaped data directory as the seed's pg_rewind left
// it: PG_VERSION 9.5, pg_xlog, the new primary's recovery.done and
// postgresql.conf. No server runs on it.
const pg95Fixture = "testdata/pg95/pgdata"

// pg95Inventory is the seed's two nodes on one machine, reached with the
// local transport: db1 (the old primary, port 1922, archive in /data02)
// and db2 (the new primary, port 1923, archive in /data03).
const pg95Inventory = `all:
  hosts:
    db1:
      connection: local
      address: 127.0.0.1
      pgdata: %s
      pg_port: 1922
      archive_dir: /data02/pgdata95/pg_arch
      restore_archive_dir: /data03/pgdata95/pg_arch
      new_primary: db2
    db2:
      connection: local
      address: 127.0.0.1
      pg_port: 1923
  children:
    old_primary:
      hosts:
        db1:
  vars:
    bin_dir: /usr/lib/postgresql/9.5/bin
    rewind_user: postgres
`

// copyFixture copies the fixture into a directory postgres owns (mode
// 0700, as PostgreSQL wants its data directory) and returns its path.
func copyFixture(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pgdata := filepath.Join(base, "pg_root")
	for _, argv := range [][]string{
		{"cp", "-a", pg95Fixture, pgdata},
		{"chown", "-R", "postgres:postgres", pgdata},
		{"chmod", "-R", "u=rwX,go=", pgdata},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", strings.Join(argv, " "), err, out)
		}
	}
	return pgdata
}

// readWant reads a file the seed's edits must produce.
func readWant(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/pg95/want", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRejoinPG95SeedEdits runs the configuration steps of
// rejoin-pg95.yml (tag config) on a 9.5-shaped data directory: --check
// --diff plans the seed's edits and changes nothing, the run writes the
// seed's recovery.conf and postgresql.conf exactly, and a second run
// changes nothing.
func TestRejoinPG95SeedEdits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the steps become postgres with sudo: run as root (CI does)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pgdata := copyFixture(t)
	inv := filepath.Join(writeFiles(t, t.TempDir(), map[string]string{"inventory.yml": fmt.Sprintf(pg95Inventory, pgdata)}), "inventory.yml")
	opts := runOptions{inventory: inv, forks: 1, tags: []string{"config"}}

	// --check --diff: the plan, and nothing on disk moves.
	before := pgdataTree(t, pgdata)
	check := opts
	check.check, check.diff = true, true
	out := runPlaybook(t, ctx, check, rejoinPG95Playbook)
	if after := pgdataTree(t, pgdata); after != before {
		t.Errorf("--check changed %s:\nbefore:\n%s\nafter:\n%s", pgdata, before, after)
	}
	ends := stepEnds(t, out)
	for _, step := range []string{"recovery.done becomes recovery.conf", "standby settings in recovery.conf", "node identity"} {
		if e := ends["db1/"+step]; e.Status != "changed" {
			t.Errorf("--check %q: %s (%s), want changed", step, e.Status, e.Msg)
		}
	}
	for _, step := range []string{"stop the old primary cleanly", "stage the WAL the rewind needs into pg_xlog", "rewind with the host's pg_rewind", "start as a standby", "verify the rejoin"} {
		if e, ran := ends["db1/"+step]; ran && e.Status != "skipped" {
			t.Errorf("--tags config ran %q: %s", step, e.Status)
		}
	}
	planned := map[string]string{}
	for _, step := range []string{"standby settings in recovery.conf", "node identity"} {
		for _, d := range ends["db1/"+step].Diffs {
			planned[filepath.Base(d.Path)] = d.After
		}
	}
	if got, want := planned["recovery.conf"], readWant(t, "recovery.conf"); got != want {
		t.Errorf("planned recovery.conf:\n%s\nwant:\n%s", got, want)
	}
	if got, want := planned["postgresql.conf"], readWant(t, "postgresql.conf"); got != want {
		t.Errorf("planned postgresql.conf:\n%s\nwant:\n%s", got, want)
	}

	// The run: the seed's files.
	out = runPlaybook(t, ctx, opts, rejoinPG95Playbook)
	for _, name := range []string{"recovery.conf", "postgresql.conf"} {
		b, err := os.ReadFile(filepath.Join(pgdata, name))
		if err != nil {
			t.Fatal(err)
		}
		if want := readWant(t, name); string(b) != want {
			t.Errorf("%s after the run:\n%s\nwant:\n%s", name, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(pgdata, "recovery.done")); !os.IsNotExist(err) {
		t.Errorf("recovery.done is still there: %v", err)
	}
	// The seed's settings, as its author typed them: each line is in the
	// file verbatim, and means what the seed meant.
	recovery := pgconf.Parse([]byte(readWant(t, "recovery.conf")))
	conf := pgconf.Parse([]byte(readWant(t, "postgresql.conf")))
	for _, tc := range []struct {
		file *pgconf.File
		line string
	}{
		{recovery, "restore_command = 'cp /data03/pgdata95/pg_arch/%f %p'"},
		{recovery, "primary_conninfo = 'host=127.0.0.1 port=1923 user=postgres keepalives_idle=60'"},
		{recovery, "standby_mode = on"},
		{conf, "port = 1922"},
		{conf, "cluster_name = 'db1'"},
		{conf, "archive_command = 'test ! -f /data02/pgdata95/pg_arch/%f && cp %p /data02/pgdata95/pg_arch/%f'"},
	} {
		if !hasSettingLine(string(tc.file.Render()), tc.line) {
			t.Errorf("the file lacks the seed's line %q", tc.line)
		}
		seed := pgconf.Parse([]byte(tc.line + "\n")).Settings()[0]
		if got, ok := tc.file.Get(seed.Name); !ok || got != seed.Value {
			t.Errorf("%s = %q (set: %v), want the seed's %q", seed.Name, got, ok, seed.Value)
		}
	}

	// Again: nothing to change.
	ev := parseLabEvents(t, runPlaybook(t, ctx, opts, rejoinPG95Playbook))
	if r := ev.recap["db1"]; r.Changed != 0 || r.Failed != 0 {
		t.Errorf("recap of the second run: %+v, want nothing changed", r)
	}
}

// hasSettingLine reports whether text has a line that is setting, alone or
// followed by whitespace and a comment, as the seed's author wrote them.
func hasSettingLine(text, setting string) bool {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, setting); ok && strings.TrimLeft(rest, " \t") == "" || ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), "#") {
			return true
		}
	}
	return false
}
