package steps

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestKindsDecode decodes a playbook-style value into every kind strictly,
// so that the yaml tags are the documented parameter names.
func TestKindsDecode(t *testing.T) {
	values := map[string]string{
		"command": `{argv: [pg_ctl, status], creates: /x, removes: /y, chdir: /tmp, env: {A: b}, stdin: "x", timeout: 30s}`,
		"file":    `{path: /x, state: directory, mode: "0700", owner: postgres, group: postgres, recurse: false}`,
		"rename":  `{src: /a, dest: /b, force: true}`,
		"conf":    `{path: /x, set: {port: 5432, hot_standby: on}, unset: [restore_command], mode: "0600", owner: postgres, group: postgres}`,
		"copy":    `{src: a, dest: /b, mode: 0640, owner: postgres, group: postgres}`,
		"wait":    `{port: 5432, host: 127.0.0.1, timeout: 60s, interval: 1s}`,
		"sql":     `{conninfo: "host=127.0.0.1", query: "SELECT $1", args: [1], changed: false, timeout: 10s}`,

		// The PostgreSQL kinds.
		"pg_stop":   `{pgdata: /d, mode: smart, timeout: 30s, bin_dir: /b, config_file: /etc/pg.conf}`,
		"pg_start":  `{pgdata: /d, timeout: 30, bin_dir: /b, log_file: /l, options: "-p 5433", standby: true, database: postgres}`,
		"pg_conf":   `{pgdata: /d, file: postgresql.conf, set: {port: 1922}, unset: [restore_command], override_auto: false}`,
		"recovery":  `{pgdata: /d, primary_conninfo: "host=a", restore_command: "cp /a/%f %p", primary_slot_name: s, recovery_target_timeline: latest}`,
		"verify":    `{pgdata: /d, primary: "host=a", local: "host=b", timeout: 10s, tables: [t1, "app:s.t2"], split_brain: [{kind: table, name: public.t2, db: app}]}`,
		"wal_stage": `{pgdata: /d, archive_dir: /arch, source_server: "host=a", config_file: /c, report_dir: /r, engine_binary: /e, timeout: 10m, stall_timeout: 2m}`,
		"rewind":    `{pgdata: /d, source_server: "host=a", engine: pg_rewind, jobs: 2, config_file: /c, bin_dir: /b, write_recovery_conf: true, restore_target_wal: true, timeout: 10m, stall_timeout: 90s, report_dir: /r, engine_binary: /e}`,

		// The lost-data report's kinds.
		"catalog_snapshot": `{pgdata: /d, report_dir: /r, bin_dir: /b, config_file: /c, timeout: 1m}`,
		"lost_report":      `{pgdata: /d, source_server: "host=a", report_dir: /r, snapshot: /r/pg1/catalog.json, salvage_dir: /s, bin_dir: /b, config_file: /c, engine_binary: /e, timeout: 5m}`,

		// The safety rail before a rewind.
		"fence": `{pgdata: /d, source_server: "host=a", old_primary: "host=b", archive_dir: /arch, bin_dir: /b, config_file: /c, engine_binary: /e, timeout: 30s}`,
	}
	kinds := Kinds()
	if len(kinds) != len(values) {
		t.Fatalf("%d kinds; want %d", len(kinds), len(values))
	}
	for _, k := range kinds {
		src, ok := values[k.Name]
		if !ok {
			t.Errorf("untested kind %s", k.Name)
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		a := k.New()
		if err := n.Content[0].Decode(a); err != nil {
			t.Errorf("%s: decode: %v", k.Name, err)
			continue
		}
		if v, ok := a.(interface{ Validate() error }); !ok {
			t.Errorf("%s: no Validate", k.Name)
		} else if err := v.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", k.Name, err)
		}
		if k.New() == a {
			t.Errorf("%s: New returns a shared value", k.Name)
		}
	}
}
