package engine_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestKeepConfig: a rewind with --keep-config leaves the node's own
// configuration set exactly as it was (its postgresql.conf, pg_hba.conf and
// certificate byte-equal, a target-only key still there, a source-only one
// not created, a --keep-file extra kept), lists each kept file in the
// report, says so under --debug, and the node starts and follows the new
// primary. A copy of the same stopped node rewound without the option gets
// the source's files, as pg_rewind does.
func TestKeepConfig(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int)")
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 100)")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT generate_series(101, 2000)")
	must(t, s.Primary.Stop(ctx, pgcluster.StopFast))

	write := func(c *pgcluster.Cluster, rel, content string) {
		t.Helper()
		must(t, c.WriteFile(rel, []byte(content), 0o600))
	}
	write(s.Primary, "server.crt", "old primary's certificate\n")
	write(s.Standby, "server.crt", "new primary's certificate\n")
	write(s.Primary, "old-only.pem", "only on the node\n")
	write(s.Standby, "new-only.key", "only on the new primary\n")
	write(s.Primary, "extra.conf", "node = 1\n")
	write(s.Standby, "extra.conf", "node = 2\n")
	hba, err := os.ReadFile(filepath.Join(s.Primary.DataDir, "pg_hba.conf"))
	must(t, err)
	write(s.Primary, "pg_hba.conf", string(hba)+"# the node's own rule\n")

	// A copy of the stopped node, rewound later without the option.
	plain := filepath.Join(s.TempDir(), "plain")
	copyTree(t, s.Primary.DataDir, plain)

	kept := []string{"postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf", "server.crt", "old-only.pem", "extra.conf"}
	before := map[string][]byte{}
	for _, rel := range kept {
		b, err := os.ReadFile(filepath.Join(s.Primary.DataDir, rel))
		must(t, err)
		before[rel] = b
	}
	report := filepath.Join(s.TempDir(), "report.json")
	res := run(t, s, ours, "--no-sync", "--debug", "--keep-config", "--keep-file", "extra.conf", "--report", report,
		"--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", s.Primary.DataDir)

	for _, rel := range kept {
		after, err := os.ReadFile(filepath.Join(s.Primary.DataDir, rel))
		if err != nil || !bytes.Equal(after, before[rel]) {
			t.Errorf("%s should be the node's own after --keep-config (err %v)", rel, err)
		}
		if !strings.Contains(res.Stderr, "keeping target's "+rel) {
			t.Errorf("--debug should say it keeps %s\n%s", rel, res)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Primary.DataDir, "new-only.key")); !os.IsNotExist(err) {
		t.Errorf("a key only the new primary has should not be created: %v", err)
	}
	var rep engine.Report
	b, err := os.ReadFile(report)
	must(t, err)
	must(t, json.Unmarshal(b, &rep))
	got := map[string]engine.KeptConfigFile{}
	for _, k := range rep.KeptConfig {
		got[k.Path] = k
	}
	size := func(c *pgcluster.Cluster, rel string) *int64 {
		fi, err := os.Stat(filepath.Join(c.DataDir, rel))
		if err != nil {
			return nil
		}
		n := fi.Size()
		return &n
	}
	for _, rel := range append(kept, "new-only.key") {
		k, ok := got[rel]
		if !ok {
			t.Errorf("report's kept_config lacks %s: %s", rel, b)
			continue
		}
		// pg_ident.conf and postgresql.auto.conf are initdb's on both
		// sides (the base backup copied them); the rest differ.
		wantDiffers := rel != "pg_ident.conf" && rel != "postgresql.auto.conf"
		if k.Differs != wantDiffers {
			t.Errorf("kept_config %s differs = %v, want %v", rel, k.Differs, wantDiffers)
		}
		if ptrString(k.TargetSize) != ptrString(sizeOf(before, rel)) || ptrString(k.SourceSize) != ptrString(size(s.Standby, rel)) {
			t.Errorf("kept_config %s sizes source %s target %s, want %s and %s", rel,
				ptrString(k.SourceSize), ptrString(k.TargetSize), ptrString(size(s.Standby, rel)), ptrString(sizeOf(before, rel)))
		}
	}
	if len(got) != len(kept)+1 {
		t.Errorf("kept_config has %d files, want %d: %s", len(got), len(kept)+1, b)
	}

	// The node starts with its own configuration and follows.
	must(t, s.Primary.FollowNew(ctx, s.Standby))
	must(t, s.Primary.Start(ctx))
	s.StandbySQL("INSERT INTO t VALUES (-1)")
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	s.CheckQuery("SELECT count(*) FROM t", "101")

	// Without the option, the source's copies arrive (pg_rewind).
	res = run(t, s, ours, "--no-sync", "--debug", "--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", plain)
	if strings.Contains(res.Stderr, "keeping target's") {
		t.Errorf("without --keep-config nothing is kept\n%s", res)
	}
	for _, rel := range []string{"postgresql.conf", "pg_hba.conf", "server.crt", "extra.conf", "new-only.key"} {
		want, err := os.ReadFile(filepath.Join(s.Standby.DataDir, rel))
		must(t, err)
		got, err := os.ReadFile(filepath.Join(plain, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("without --keep-config %s should be the source's (err %v)", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(plain, "old-only.pem")); !os.IsNotExist(err) {
		t.Errorf("without --keep-config a target-only file is removed: %v", err)
	}
}

func sizeOf(files map[string][]byte, rel string) *int64 {
	b, ok := files[rel]
	if !ok {
		return nil
	}
	n := int64(len(b))
	return &n
}

func ptrString(p *int64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatInt(*p, 10)
}
