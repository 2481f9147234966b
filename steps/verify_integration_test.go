package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// verifyPassword is written in the primary's conninfo (the test clusters
// trust every connection, so it is never checked) to prove it appears in
// no output of verify.
const verifyPassword = "Verify-s3cret"

// TestRejoinStepsIntegration runs recovery, pg_start and verify the way the
// rejoin playbook does, on a real primary and a base backup of it, then
// makes verify fail on purpose: a split-brain object still present and a
// table that differs because the node stopped replaying.
func TestRejoinStepsIntegration(t *testing.T) {
	t.Parallel() // own clusters, own ports and directories
	ctx := context.Background()
	primary := newPrimary(t, ctx)
	for _, q := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE t1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500) g",
		"CREATE UNLOGGED TABLE scratch (a int)",
		"INSERT INTO scratch VALUES (1)",
	} {
		if err := primary.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`CREATE SCHEMA "My Schema"`,
		`CREATE TABLE "My Schema"."t-1" (id int PRIMARY KEY, note text)`,
		`INSERT INTO "My Schema"."t-1" SELECT g, repeat('x', g % 7) FROM generate_series(1, 200) g`,
		`CREATE VIEW v1 AS SELECT 1 AS one`,
	} {
		if err := primary.Exec(ctx, "app", q); err != nil {
			t.Fatal(err)
		}
	}
	node := newStandby(t, ctx, primary)

	// The node streams from the primary over TCP, as a rejoined node
	// would, so verify can match the WAL receiver's sender.
	primaryConninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=pg2", primary.Port)
	rec := &Recovery{PGData: node.DataDir, PrimaryConninfo: primaryConninfo}
	if out := runStep(t, ctx, rec, false); !out.Changed {
		t.Fatalf("recovery: %+v", out)
	}
	if out := runStep(t, ctx, rec, false); out.Changed {
		t.Fatalf("second recovery: %+v", out)
	}
	start := &PgStart{PGData: node.DataDir, Timeout: Duration(30 * time.Second)}
	if out := runStep(t, ctx, start, false); !out.Changed {
		t.Fatalf("pg_start: %+v", out)
	}

	verify := &Verify{
		PGData:  node.DataDir,
		Primary: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres password=%s", primary.Port, verifyPassword),
		Timeout: Duration(30 * time.Second),
		SplitBrain: []SplitBrainObject{
			{Kind: "table", Name: "public.t2"},
			{Kind: "view", Name: "v2", DB: "app"},
			{Kind: "function", Name: "public.ft"},
		},
	}
	var lines []string
	tg := target("postgres", false, false)
	tg.Output = func(_, line string) { lines = append(lines, line) }
	out, err := verify.Run(ctx, tg)
	if err != nil {
		t.Fatalf("verify on a healthy standby: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if out.Changed {
		t.Error("verify reported changed")
	}
	want := []string{
		"ok    primary is not in recovery",
		"ok    node is in recovery",
		fmt.Sprintf("ok    WAL receiver streaming from the primary: from 127.0.0.1:%d", primary.Port),
		"ok    same timeline as the primary: timeline 1",
		"ok    replay reaches the primary's position: replayed ",
		"ok    split-brain table public.t2 absent",
		"ok    split-brain view v2 absent in database app",
		"ok    split-brain function public.ft absent",
		"ok    same databases: 3 on both sides",
		"ok    same tables in database app: 1 on both sides",
		"ok    same tables in database postgres: 1 on both sides",
		"ok    same tables in database template1: 0 on both sides",
		"ok    same content app:My Schema.t-1: checksum ",
		"ok    same content postgres:public.t1: checksum ",
	}
	assertLines(t, lines, want)
	if out.Msg != fmt.Sprintf("all %d checks passed", len(want)) {
		t.Errorf("msg %q", out.Msg)
	}
	if checks, _ := out.Facts["checks"].([]map[string]any); len(checks) != len(want) {
		t.Errorf("facts: %d checks; want %d", len(checks), len(want))
	}
	if out.Facts["ok"] != true {
		t.Errorf("facts ok = %v, want true", out.Facts["ok"])
	}

	// Split brain left behind, and a table that differs: the node stops
	// replaying, the primary writes on.
	if err := node.Exec(ctx, "postgres", "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	if err := primary.Exec(ctx, "postgres", "INSERT INTO t1 VALUES (501, 'split')"); err != nil {
		t.Fatal(err)
	}
	bad := *verify
	bad.Timeout = Duration(3 * time.Second)
	bad.SplitBrain = []SplitBrainObject{{Kind: "table", Name: "t1"}, {Kind: "view", Name: "public.v1", DB: "app"}}
	bad.Tables = TableSelection{Names: []string{"t1", "app:My Schema.t-1"}}
	lines = nil
	badOut, err := bad.Run(ctx, tg)
	if badOut.Facts["ok"] != false {
		t.Errorf("facts ok = %v on a failed verify, want false", badOut.Facts["ok"])
	}
	if err == nil {
		t.Fatalf("verify passed on a paused node with split-brain objects:\n%s", strings.Join(lines, "\n"))
	}
	for _, w := range []string{
		"verify " + node.DataDir + ": 4 of 9 checks failed: ",
		"replay reaches the primary's position: replayed only ",
		"split-brain table t1 absent: it still exists on the node",
		"split-brain view public.v1 absent in database app: it still exists on the node",
		"same content postgres:public.t1: primary ",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "My Schema.t-1") {
		t.Errorf("an equal table is reported as failed: %v", err)
	}
	all := err.Error() + strings.Join(lines, "\n")
	if strings.Contains(all, verifyPassword) {
		t.Errorf("password in verify output: %s", all)
	}
	// Under --check the same failures are reported, not raised: the
	// earlier steps of the playbook changed nothing.
	out, err = bad.Run(ctx, target("postgres", true, false))
	if err != nil || !strings.HasPrefix(out.Msg, "4 of 9 checks fail now (under --check the earlier steps made no change): ") {
		t.Errorf("check-mode verify: %+v, %v", out, err)
	}
	if err := node.Exec(ctx, "postgres", "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}

	// Verify from a node whose server is down says what to do.
	if err := node.Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	_, err = verify.Run(ctx, target("postgres", false, false))
	if err == nil || !strings.Contains(err.Error(), "the server is not running (run pg_start first), or give local") {
		t.Errorf("verify on a stopped node: %v", err)
	}
}

// assertLines checks each output line against the prefix at the same place.
func assertLines(t *testing.T, got, prefixes []string) {
	t.Helper()
	if len(got) != len(prefixes) {
		t.Errorf("%d lines; want %d:\n%s", len(got), len(prefixes), strings.Join(got, "\n"))
	}
	for i := 0; i < len(got) && i < len(prefixes); i++ {
		if !strings.HasPrefix(got[i], prefixes[i]) {
			t.Errorf("line %d = %q; want prefix %q", i, got[i], prefixes[i])
		}
	}
}
