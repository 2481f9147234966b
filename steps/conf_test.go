package steps

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// standbySettings is the edit the golden test applies to
// testdata/postgresql.conf.
func standbySettings(path string) *Conf {
	return &Conf{
		Path: path,
		Set: map[string]any{
			"listen_addresses": "*",
			"port":             5433,
			"wal_level":        "replica",
			"archive_mode":     true,
			"archive_command":  "test ! -f /a/%f && cp %p /a/%f",
			"primary_conninfo": "host=x user='a b'",
			"shared_buffers":   "128MB",
			"max_connections":  "100",
		},
		Unset: []string{"hot_standby"},
	}
}

func TestConf(t *testing.T) {
	golden := filepath.Join("testdata", "postgresql.conf.golden")
	input := mustRead(t, filepath.Join("testdata", "postgresql.conf"))
	if *update {
		f := standbySettings("")
		after, _, err := f.edit([]byte(input))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, after, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := mustRead(t, golden)
	conf := func(d string) string { return filepath.Join(d, "postgresql.conf") }
	runCases(t, []stepCase{
		{
			name:    "golden edit keeps mode and every other byte",
			setup:   func(t *testing.T, d string) { mustWrite(t, conf(d), input, 0o640) },
			action:  func(d string) runbook.Action { return standbySettings(conf(d)) },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: conf(d), Before: input, After: want}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, conf(d)); got != want {
					t.Errorf("file differs from %s:\n%s", golden, got)
				}
				assertMode(t, conf(d), 0o640)
			},
		},
		{
			name:    "missing file is created private",
			action:  func(d string) runbook.Action { return &Conf{Path: conf(d), Set: map[string]any{"port": 5432}} },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: conf(d), Before: "", After: "port = 5432\n"}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, conf(d)); got != "port = 5432\n" {
					t.Errorf("file holds %q", got)
				}
				assertMode(t, conf(d), 0o600)
			},
		},
		{
			name:  "same value spelt differently is ok",
			setup: func(t *testing.T, d string) { mustWrite(t, conf(d), "port = '5432'\nhot_standby = true\n", 0o600) },
			action: func(d string) runbook.Action {
				return &Conf{Path: conf(d), Set: map[string]any{"port": 5432, "hot_standby": "on"}}
			},
		},
		{
			name:   "unset on a missing file is ok",
			action: func(d string) runbook.Action { return &Conf{Path: conf(d), Unset: []string{"restore_command"}} },
			verify: func(t *testing.T, d string) {
				if _, err := os.Stat(conf(d)); !os.IsNotExist(err) {
					t.Errorf("file was created: %v", err)
				}
			},
		},
		{
			name: "symlink kept, target edited",
			setup: func(t *testing.T, d string) {
				mustWrite(t, filepath.Join(d, "real.conf"), "port = 1\n", 0o644)
				if err := os.Symlink("real.conf", conf(d)); err != nil {
					t.Fatal(err)
				}
			},
			action:  func(d string) runbook.Action { return &Conf{Path: conf(d), Set: map[string]any{"port": 2}} },
			changed: true,
			verify: func(t *testing.T, d string) {
				if fi, err := os.Lstat(conf(d)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("symlink replaced: %v", err)
				}
				if got := mustRead(t, filepath.Join(d, "real.conf")); got != "port = 2\n" {
					t.Errorf("target holds %q", got)
				}
			},
		},
		{
			name:   "become postgres keeps a postgres-owned file",
			become: true,
			setup: func(t *testing.T, d string) {
				mustWrite(t, conf(d), "# c\nport = 1\n", 0o600)
				if err := os.Chown(conf(d), pgUID(t), -1); err != nil {
					t.Fatal(err)
				}
			},
			action: func(d string) runbook.Action {
				return &Conf{Path: conf(d), Set: map[string]any{"port": 5432, "cluster_name": "db 1"}}
			},
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: conf(d), Before: "# c\nport = 1\n", After: "# c\nport = 5432\ncluster_name = 'db 1'\n"}}
			},
			verify: func(t *testing.T, d string) {
				if o := fileOwner(t, conf(d)); o != "postgres" {
					t.Errorf("owner %s; want postgres", o)
				}
				assertMode(t, conf(d), 0o600)
			},
		},
		{
			name: "passwords masked in the diff, not in the file",
			setup: func(t *testing.T, d string) {
				mustWrite(t, conf(d), "primary_conninfo = 'host=a password=old'\n", 0o600)
			},
			action: func(d string) runbook.Action {
				return &Conf{Path: conf(d), Set: map[string]any{"primary_conninfo": "host=b password='n e w'"}}
			},
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: conf(d), Before: "primary_conninfo = 'host=a password=********'\n", After: "primary_conninfo = 'host=b password=********'\n"}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, conf(d)); got != "primary_conninfo = 'host=b password=''n e w'''\n" {
					t.Errorf("file holds %q", got)
				}
			},
		},
		{
			name:    "unreadable file is an error naming it",
			become:  true,
			setup:   func(t *testing.T, d string) { mustWrite(t, conf(d), "port = 1\n", 0o600) },
			action:  func(d string) runbook.Action { return &Conf{Path: conf(d), Set: map[string]any{"port": 2}} },
			wantErr: "/postgresql.conf: read: ",
		},
	})
}

func TestConfValidate(t *testing.T) {
	for _, c := range []*Conf{
		{},
		{Path: "/x"},
		{Path: "/x", Set: map[string]any{"bad key": 1}},
		{Path: "/x", Set: map[string]any{"a": []any{1}}},
		{Path: "/x", Set: map[string]any{"a": 1}, Unset: []string{"a"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
