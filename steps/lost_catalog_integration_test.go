package steps

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// catalogNames maps "database:schema.name" to the snapshot's relation, and
// "function database:schema.name(args)" to an empty relation.
func catalogNames(cat *engine.Catalog) map[string]engine.CatalogRelation {
	out := map[string]engine.CatalogRelation{}
	for _, d := range cat.Databases {
		for _, r := range d.Relations {
			out[d.Name+":"+r.Schema+"."+r.Name] = r
		}
		for _, f := range d.Functions {
			out["function "+d.Name+":"+f.Schema+"."+f.Name+"("+f.Args+")"] = engine.CatalogRelation{}
		}
	}
	return out
}

// TestCatalogSnapshotIntegration snapshots a real PostgreSQL 15 cluster's
// catalog running, then stopped (started unreachable and read-only for
// it, and stopped again), and skips a crashed one and a standby's data
// directory; --check never starts a stopped server.
func TestCatalogSnapshotIntegration(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newPrimary(t, ctx)
	for _, sql := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE t9 (id int PRIMARY KEY, v text)",
		"CREATE VIEW v9 AS SELECT id FROM t9",
		"CREATE FUNCTION f9(a int) RETURNS int LANGUAGE sql AS 'SELECT a'",
	} {
		if err := c.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Exec(ctx, "app", "CREATE SCHEMA s; CREATE TABLE s.a9 (x int)"); err != nil {
		t.Fatal(err)
	}
	relnode, err := c.QueryValue(ctx, "postgres", "SELECT pg_relation_filenode('t9')")
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	step := &CatalogSnapshot{PGData: c.DataDir, ReportDir: reports}
	file := filepath.Join(reports, "localhost", "catalog.json")

	check := func(how string) {
		t.Helper()
		cat, err := loadCatalog(file)
		if err != nil || cat == nil {
			t.Fatalf("%s: catalog.json: %v %v", how, cat, err)
		}
		names := catalogNames(cat)
		if r := names["postgres:public.t9"]; r.Kind != "r" || r.SpcNode != 1663 || r.DBNode == 0 || relnode != itoa(r.RelNode) {
			t.Errorf("%s: t9 %+v, want table in 1663/<db>/%s", how, r, relnode)
		}
		if r := names["postgres:public.v9"]; r.Kind != "v" || r.RelNode != 0 {
			t.Errorf("%s: v9 %+v", how, r)
		}
		if r := names["postgres:pg_catalog.pg_database"]; r.SpcNode != 1664 || r.DBNode != 0 || r.RelNode == 0 {
			t.Errorf("%s: shared catalog pg_database %+v", how, r)
		}
		if r := names["postgres:pg_catalog.pg_class"]; r.RelNode == 0 {
			t.Errorf("%s: mapped catalog pg_class without its file node", how)
		}
		if _, ok := names["function postgres:public.f9(a integer)"]; !ok {
			t.Errorf("%s: f9 missing", how)
		}
		if r := names["app:s.a9"]; r.Kind != "r" {
			t.Errorf("%s: app's s.a9 %+v", how, r)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
	}

	out := runStep(t, ctx, step, false)
	if out.Changed || out.Skipped {
		t.Errorf("running: changed %v skipped %v (%s)", out.Changed, out.Skipped, out.Msg)
	}
	check("running")

	if err := c.Stop(ctx, pgcluster.StopFast); err != nil {
		t.Fatal(err)
	}
	before := controlState(t, c.DataDir)
	out = runStep(t, ctx, step, true)
	if !out.Changed || controlState(t, c.DataDir).CheckPoint != before.CheckPoint {
		t.Errorf("--check on a stopped server: changed %v (%s), checkpoint moved", out.Changed, out.Msg)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("--check wrote %s", file)
	}
	out = runStep(t, ctx, step, false)
	if !out.Changed || out.Skipped {
		t.Errorf("stopped: changed %v skipped %v (%s)", out.Changed, out.Skipped, out.Msg)
	}
	check("stopped")
	if isRunning(t, ctx, c) {
		t.Errorf("the server still runs after the snapshot")
	}
	if st := controlState(t, c.DataDir).State; st != pgcontrol.ShutDown {
		t.Errorf("state %s after the snapshot, want shut down", st)
	}

	// A standby's data directory is never started as a primary.
	signal := filepath.Join(c.DataDir, "standby.signal")
	mustWrite(t, signal, "", 0o600)
	out = runStep(t, ctx, step, false)
	if !out.Skipped || isRunning(t, ctx, c) {
		t.Errorf("with standby.signal: skipped %v (%s)", out.Skipped, out.Msg)
	}
	if err := os.Remove(signal); err != nil {
		t.Fatal(err)
	}

	// A crashed server is left to pg_stop's crash recovery.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	crash(t, c)
	out = runStep(t, ctx, step, false)
	if !out.Skipped || isRunning(t, ctx, c) {
		t.Errorf("crashed: skipped %v (%s)", out.Skipped, out.Msg)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
