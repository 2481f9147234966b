package steps

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestPostgresPlaybookParams loads the rejoin shape of DESIGN.md through
// the runbook parser and checks the decoded parameters of every
// PostgreSQL kind.
func TestPostgresPlaybookParams(t *testing.T) {
	const playbook = `name: rejoin
hosts: all
become: postgres
vars:
  pgdata: /var/lib/postgresql/15/main
  source: "host=10.77.0.12 port=5432 user=rewind dbname=postgres"
steps:
  - name: stop cleanly
    pg_stop: {pgdata: "{{ .pgdata }}", mode: fast, timeout: 90s}
  - name: standby settings
    recovery: {pgdata: "{{ .pgdata }}", primary_conninfo: "{{ .source }}", restore_command: "cp /arch/%f %p"}
  - name: node identity
    pg_conf: {pgdata: "{{ .pgdata }}", set: {port: 5432, cluster_name: db1}}
  - name: start
    pg_start: {pgdata: "{{ .pgdata }}", standby: false}
  - name: verify
    verify:
      pgdata: "{{ .pgdata }}"
      primary: "{{ .source }}"
      tables: none
      split_brain: [{kind: view, name: public.v2}]
`
	path := filepath.Join(t.TempDir(), "rejoin.yml")
	if err := os.WriteFile(path, []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, err := runbook.LoadPlaybook(path, Kinds())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	vars := map[string]any{"pgdata": "/pg", "source": "host=p user=r"}
	acts := map[string]runbook.Action{}
	for _, s := range pb.Steps {
		a, err := s.Action(vars)
		if err != nil {
			t.Fatalf("step %s: %v", s.Name, err)
		}
		acts[s.Name] = a
	}
	no := false
	want := map[string]runbook.Action{
		"stop cleanly":     &PgStop{PGData: "/pg", Mode: "fast", Timeout: Duration(90 * time.Second)},
		"standby settings": &Recovery{PGData: "/pg", PrimaryConninfo: "host=p user=r", RestoreCommand: "cp /arch/%f %p"},
		"node identity":    &PgConf{PGData: "/pg", Set: map[string]any{"port": 5432, "cluster_name": "db1"}},
		"start":            &PgStart{PGData: "/pg", Standby: &no},
		"verify": &Verify{PGData: "/pg", Primary: "host=p user=r", Tables: TableSelection{None: true},
			SplitBrain: []SplitBrainObject{{Kind: "view", Name: "public.v2"}}},
	}
	for name, w := range want {
		if !reflect.DeepEqual(acts[name], w) {
			t.Errorf("%s decoded as %+v; want %+v", name, acts[name], w)
		}
	}
}

func TestPostgresValidate(t *testing.T) {
	cases := []struct {
		name string
		v    runbook.Validator
		want string
	}{
		{"pg_start pgdata", &PgStart{}, "pgdata is required"},
		{"pg_conf pgdata", &PgConf{Set: map[string]any{"port": 1}}, "pgdata is required"},
		{"pg_conf nothing", &PgConf{PGData: "/d"}, "/d/postgresql.conf: nothing to set or unset"},
		{"pg_conf bad key", &PgConf{PGData: "/d", Set: map[string]any{"a b": 1}}, `invalid setting name "a b"`},
		{"verify primary", &Verify{PGData: "/d"}, "primary (conninfo of the new primary) is required"},
		{"verify local", &Verify{Primary: "host=a"}, "pgdata or local is required"},
		{"verify kind", &Verify{Primary: "host=a", Local: "host=b", SplitBrain: []SplitBrainObject{{Kind: "index", Name: "i"}}},
			`split_brain i: kind "index" must be table, view or function`},
		{"verify ok", &Verify{Primary: "host=a", Local: "host=b"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestTableSelection(t *testing.T) {
	cases := []struct {
		src     string
		want    TableSelection
		wantErr bool
	}{
		{"all", TableSelection{}, false},
		{"none", TableSelection{None: true}, false},
		{"[t1, 'app:My Schema.t-1']", TableSelection{Names: []string{"t1", "app:My Schema.t-1"}}, false},
		{"some", TableSelection{}, true},
		{"{a: b}", TableSelection{}, true},
	}
	for _, tc := range cases {
		var got TableSelection
		err := yaml.Unmarshal([]byte(tc.src), &got)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v", tc.src, got, err)
		}
	}
	names := map[string]qualifiedTable{
		"t1":                {"postgres", "public", "t1"},
		"s.t1":              {"postgres", "s", "t1"},
		"app:My Schema.t-1": {"app", "My Schema", "t-1"},
	}
	for in, want := range names {
		if got := parseTableName(in, "postgres"); got != want {
			t.Errorf("parseTableName(%q) = %+v; want %+v", in, got, want)
		}
	}
}

func TestMaskConfSecrets(t *testing.T) {
	cases := []struct {
		in, want string
		secrets  []string
	}{
		{"primary_conninfo = 'host=a password=s3 user=b'\n", "primary_conninfo = 'host=a password=******** user=b'\n", nil},
		{"primary_conninfo = 'password=''s 3'' host=a'\n", "primary_conninfo = 'password=******** host=a'\n", nil},
		{"primary_conninfo = 'postgres://u:s3@h/db'\n", "primary_conninfo = 'postgres://u:********@h/db'\n", nil},
		{"x = 'PASSWORD = s3'\n", "x = 'PASSWORD = ********'\n", nil},
		{"restore_command = 'cp %p /x' # hunter2\n", "restore_command = 'cp %p /x' # ********\n", []string{"hunter2"}},
		{"port = 5432\n", "port = 5432\n", []string{""}},
	}
	for _, tc := range cases {
		if got := maskConfSecrets(tc.in, tc.secrets); got != tc.want {
			t.Errorf("maskConfSecrets(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseControlData(t *testing.T) {
	const out95 = `pg_control version number:            942
Database cluster state:               in production
Latest checkpoint's TimeLineID:       3
wal_level setting:                    hot_standby
`
	cases := []struct {
		in      string
		want    clusterState
		wantErr bool
	}{
		{out95, clusterState{State: "in production", Timeline: 3}, false},
		{"Database cluster state: shut down in recovery\nLatest checkpoint's TimeLineID: 1\nwal_level setting: minimal\n",
			clusterState{State: "shut down in recovery", Timeline: 1, WalMinimal: true}, false},
		{"Database cluster state: shut down\n", clusterState{State: "shut down"}, true},
		{"Latest checkpoint's TimeLineID: x\n", clusterState{}, true},
	}
	for _, tc := range cases {
		got, err := parseControlData(tc.in)
		if (err != nil) != tc.wantErr || !tc.wantErr && got != tc.want {
			t.Errorf("parseControlData(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if !(clusterState{State: "shut down in recovery"}).cleanlyShutDown() || (clusterState{State: "in production"}).cleanlyShutDown() {
		t.Error("cleanlyShutDown disagrees with pg_controldata's wording")
	}
}
