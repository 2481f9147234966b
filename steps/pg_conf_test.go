package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// seedIdentity is the seed's step 5: the old primary's own port,
// cluster_name and archive_command, put back after the rewind copied the
// new primary's postgresql.conf.
func seedIdentity(pgdata string) *PgConf {
	return &PgConf{
		PGData: pgdata,
		Set: map[string]any{
			"port":            1922,
			"cluster_name":    "db1",
			"archive_command": "test ! -f /data02/pgdata95/pg_arch/%f && cp %p /data02/pgdata95/pg_arch/%f",
		},
		Unset: []string{"restore_command"},
	}
}

func TestPgConf(t *testing.T) {
	golden := filepath.Join("testdata", "pg_conf.postgresql.conf.golden")
	input := mustRead(t, filepath.Join("testdata", "postgresql.conf"))
	if *update {
		after, _, err := seedIdentity("").conf().edit([]byte(input))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, after, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := mustRead(t, golden)
	auto := autoHeader + "port = '1923'\nwork_mem = '64MB'\nrestore_command = 'cp /x/%f %p'\n"
	wantAuto := autoHeader + "work_mem = '64MB'\n"
	conf := func(d string) string { return filepath.Join(d, "postgresql.conf") }
	autoPath := func(d string) string { return filepath.Join(d, "postgresql.auto.conf") }
	setup := func(t *testing.T, d string) {
		pg12Dir(t, d)
		mustWrite(t, conf(d), input, 0o600)
		mustWrite(t, autoPath(d), auto, 0o600)
		chownPostgres(t, d)
	}
	no := false
	runCases(t, []stepCase{
		{
			name:    "seed identity, auto.conf overrides removed",
			become:  true,
			setup:   setup,
			action:  func(d string) runbook.Action { return seedIdentity(d) },
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{
					{Path: conf(d), Before: input, After: want},
					{Path: autoPath(d), Before: auto, After: wantAuto},
				}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, conf(d)); got != want {
					t.Errorf("postgresql.conf differs from %s:\n%s", golden, got)
				}
				if got := mustRead(t, autoPath(d)); got != wantAuto {
					t.Errorf("postgresql.auto.conf:\n%s", got)
				}
				assertMode(t, conf(d), 0o600)
				if o := fileOwner(t, conf(d)); o != "postgres" {
					t.Errorf("postgresql.conf owned by %s", o)
				}
			},
		},
		{
			name:   "override_auto false leaves auto.conf",
			become: true,
			setup:  setup,
			action: func(d string) runbook.Action {
				s := seedIdentity(d)
				s.OverrideAuto = &no
				return s
			},
			changed: true,
			diffs: func(d string) []runbook.FileDiff {
				return []runbook.FileDiff{{Path: conf(d), Before: input, After: want}}
			},
			verify: func(t *testing.T, d string) {
				if got := mustRead(t, autoPath(d)); got != auto {
					t.Errorf("postgresql.auto.conf changed:\n%s", got)
				}
			},
		},
		{
			name:    "no postgresql.conf",
			setup:   func(t *testing.T, d string) { pg12Dir(t, d) },
			action:  func(d string) runbook.Action { return seedIdentity(d) },
			wantErr: "postgresql.conf does not exist: check pgdata, or give file:",
		},
	})
}

func TestPgConfMessages(t *testing.T) {
	d := t.TempDir()
	pg12Dir(t, d)
	mustWrite(t, filepath.Join(d, "postgresql.conf"), "port = 5432\n", 0o600)
	mustWrite(t, filepath.Join(d, "postgresql.auto.conf"), "port = 5433\nprimary_conninfo = 'host=a password=hunter2'\n", 0o600)
	no := false
	cases := []struct {
		name string
		step *PgConf
		msg  string
	}{
		{"override", &PgConf{PGData: d, Set: map[string]any{"port": 1922}},
			"changed port in postgresql.conf; removed port from postgresql.auto.conf, where it would override"},
		{"warn", &PgConf{PGData: d, Set: map[string]any{"port": 1922}, OverrideAuto: &no},
			"changed port in postgresql.conf; warning: postgresql.auto.conf also sets port and overrides postgresql.conf (override_auto is false)"},
		{"as wanted", &PgConf{PGData: d, Set: map[string]any{"port": "5432"}, OverrideAuto: &no},
			"warning: postgresql.auto.conf also sets port and overrides postgresql.conf (override_auto is false)"},
		{"conninfo", &PgConf{PGData: d, Set: map[string]any{"primary_conninfo": "host=b password=hunter2"}},
			"changed primary_conninfo in postgresql.conf; removed primary_conninfo from postgresql.auto.conf, where it would override"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.step.Run(t.Context(), target("", true, true))
			if err != nil {
				t.Fatal(err)
			}
			if out.Msg != tc.msg {
				t.Errorf("msg %q; want %q", out.Msg, tc.msg)
			}
			for _, df := range out.Diffs {
				if strings.Contains(df.Before+df.After, "hunter2") {
					t.Errorf("password in diff of %s", df.Path)
				}
			}
		})
	}
}
