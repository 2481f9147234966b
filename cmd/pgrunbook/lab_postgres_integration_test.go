package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// TestLabCommandsPostgres runs `lab up --postgres`, status and down as an
// operator would, and checks that down leaves no server running.
func TestLabCommandsPostgres(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab commands need root (network namespaces, sshd, PostgreSQL as postgres); skipping")
	}
	t.Parallel()
	ctx := context.Background()
	opts := labOptions{Name: fmt.Sprintf("tpg%d", os.Getpid()%100000), StateDir: filepath.Join(t.TempDir(), "lab")}
	t.Cleanup(func() { testenv.Purge(context.Background(), opts.Name) })

	var out bytes.Buffer
	if err := runLabUp(ctx, labUpOptions{labOptions: opts, Hosts: 3, Postgres: true, Clusters: 1}, &out); err != nil {
		t.Fatalf("lab up --postgres: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runLabStatus(ctx, opts, &out); err != nil {
		t.Fatalf("lab status: %v\n%s", err, out.String())
	}
	for _, want := range []string{`pg1 .* a +primary, up`, `pg2 .* a +standby, up`, `pg3 .* a +standby, up`, `CLUSTER +POSTGRES`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("lab status does not match %q:\n%s", want, out.String())
		}
	}

	lab, err := testenv.Open(ctx, opts.Name, opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, h := range lab.Hosts {
		b, err := os.ReadFile(filepath.Join(h.Dirs.DataDir, "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(first)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := lab.PGCluster("pg2").Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runLabStatus(ctx, opts, &out); err != nil {
		t.Fatalf("lab status with pg2's server stopped: %v", err)
	}
	if !regexp.MustCompile(`pg2 .* a +standby, down`).MatchString(out.String()) {
		t.Errorf("lab status does not show pg2 down:\n%s", out.String())
	}

	out.Reset()
	if err := runLabDown(ctx, opts, &out); err != nil {
		t.Fatalf("lab down: %v", err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("postmaster %d still runs after lab down", pid)
		}
	}
}

// alive reports whether pid runs and is not a zombie (servers started by
// pg_ctl are reparented to an init that may not reap them).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}
