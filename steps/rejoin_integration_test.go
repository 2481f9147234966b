package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestRejoinSplitBrainIntegration is the seed procedure in miniature, on
// PostgreSQL 15: the standby pg2 is promoted while the old primary pg1
// keeps writing (split brain); then pg_stop, a rewind (the host's
// pg_rewind here, the engine has its own tests), recovery, pg_conf,
// pg_start and verify rejoin pg1 as a standby of pg2, and a second pass of
// the steps after the rewind changes nothing.
func TestRejoinSplitBrainIntegration(t *testing.T) {
	t.Parallel() // own clusters, own ports and directories
	ctx := context.Background()
	pg1 := newPrimary(t, ctx)
	pg2 := newStandby(t, ctx, pg1)
	if err := pg2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg1.Exec(ctx, "postgres", "CREATE TABLE t1 AS SELECT g AS id FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	if err := pg1.WaitForCatchup(ctx, pg2); err != nil {
		t.Fatal(err)
	}
	if err := pg2.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	// pg_rewind reads the source's timeline from its control file, which
	// a checkpoint brings up to date after the promotion.
	if err := pg2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE t2 AS SELECT g AS id FROM generate_series(1, 100) g",
		"DELETE FROM t1 WHERE id <= 10",
	} {
		if err := pg1.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg2.Exec(ctx, "postgres", "INSERT INTO t1 VALUES (1001)"); err != nil {
		t.Fatal(err)
	}

	primaryConninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=pg1", pg2.Port)
	rejoin := []runbook.Action{
		&PgStop{PGData: pg1.DataDir},
		nil, // the rewind
		&Recovery{PGData: pg1.DataDir, PrimaryConninfo: primaryConninfo},
		&PgConf{PGData: pg1.DataDir, Set: map[string]any{
			"port": pg1.Port, "unix_socket_directories": pg1.SocketDir, "cluster_name": "pg1",
		}},
		&PgStart{PGData: pg1.DataDir, Timeout: Duration(30 * time.Second)},
		&Verify{
			PGData:     pg1.DataDir,
			Primary:    fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", pg2.Port),
			Timeout:    Duration(30 * time.Second),
			SplitBrain: []SplitBrainObject{{Kind: "table", Name: "public.t2"}},
		},
	}
	var msgs []string
	for i, a := range rejoin {
		if a == nil {
			cmd, err := pg1.Command(ctx, pg1.Bin("pg_rewind"), "-D", pg1.DataDir, "--source-server="+pg2.ConnString("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("pg_rewind: %v\n%s", err, out)
			}
			continue
		}
		out, err := a.Run(ctx, target("postgres", false, false))
		if err != nil {
			t.Fatalf("step %d (%T): %v", i, a, err)
		}
		if _, isVerify := a.(*Verify); out.Changed == isVerify {
			t.Errorf("step %d (%T): changed=%v (%s)", i, a, out.Changed, out.Msg)
		}
		msgs = append(msgs, out.Msg)
	}
	want := []string{
		"stopped (fast)",
		"set primary_conninfo, recovery_target_timeline in postgresql.auto.conf; created standby.signal",
		"changed cluster_name, port, unix_socket_directories in postgresql.conf",
		fmt.Sprintf("started, accepting connections on port %d (standby, in recovery)", pg1.Port),
		"all 10 checks passed",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if v, err := pg1.QueryValue(ctx, "postgres", "SELECT count(*) FROM t1"); err != nil || v != "1001" {
		t.Errorf("t1 on the rejoined node has %s rows (%v); want the new primary's 1001", v, err)
	}

	// The steps after the rewind again: nothing to change. (pg_stop
	// would stop the running standby, as asked; a playbook guards it.)
	for i, a := range rejoin {
		if i < 2 {
			continue
		}
		out, err := a.Run(ctx, target("postgres", false, false))
		if err != nil {
			t.Fatalf("second pass, step %d (%T): %v", i, a, err)
		}
		if out.Changed {
			t.Errorf("second pass, step %d (%T) changed: %s", i, a, out.Msg)
		}
	}
}
