package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphanHelperEnv, when set to a directory, turns this test binary into a
// helper that starts a cluster there, prints the postmaster's PID and dies
// without any cleanup, as a test binary killed by -timeout does.
const orphanHelperEnv = "PGCLUSTER_ORPHAN_HELPER_DIR"

// detachedEnv, when set too, makes the helper's server Detached.
const detachedEnv = "PGCLUSTER_ORPHAN_HELPER_DETACHED"

func TestServerDiesWithTestProcess(t *testing.T) {
	if dir := os.Getenv(orphanHelperEnv); dir != "" {
		orphanHelper(dir)
		return
	}
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("pgcluster integration tests run PostgreSQL as the postgres user and need root")
	}
	tests := []struct {
		name     string
		detached bool
	}{
		{"attached dies", false},
		{"detached survives", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			pid := runOrphanHelper(t, ctx, dir, tt.detached)
			if tt.detached {
				defer func() {
					_ = syscall.Kill(pid, syscall.SIGQUIT)
					waitGone(pid, 10*time.Second)
				}()
			}
			gone := waitGone(pid, 5*time.Second)
			if gone == tt.detached {
				t.Fatalf("postmaster %d of a dead test process: gone = %v, want %v", pid, gone, !tt.detached)
			}
		})
	}
}

// runOrphanHelper runs this test binary as the orphan helper and returns
// the PID of the postmaster it left.
func runOrphanHelper(t *testing.T, ctx context.Context, dir string, detached bool) int {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServerDiesWithTestProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"="+dir)
	if detached {
		cmd.Env = append(cmd.Env, detachedEnv+"=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("helper: %v, want exit 3\n%s", err, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "postmaster pid "); ok {
			if pid, err := strconv.Atoi(v); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("helper printed no postmaster pid\n%s", out.String())
	return 0
}

// waitGone reports whether process pid ends within d.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// orphanHelper starts a server and exits abruptly with status 3.
func orphanHelper(dir string) {
	ctx := context.Background()
	c, err := Init(ctx, Options{Dir: dir, Name: "orphan", Detached: os.Getenv(detachedEnv) != ""})
	if err == nil {
		err = c.Start(ctx)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	b, err := os.ReadFile(c.DataDir + "/postmaster.pid")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("postmaster pid %s\n", strings.SplitN(string(b), "\n", 2)[0])
	os.Exit(3)
}

// TestServerOutlivesLockedThread starts a server from a goroutine locked to
// its OS thread, which Go discards when the goroutine ends: the server must
// survive that, since only the process's death should stop it.
func TestServerOutlivesLockedThread(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("pgcluster integration tests run PostgreSQL as the postgres user and need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Init(ctx, Options{Dir: t.TempDir(), Name: "locked"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		done <- c.Start(ctx)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if v, err := c.QueryValue(ctx, "postgres", "SELECT 1"); err != nil || v != "1" {
		t.Fatalf("server gone after the starting thread exited: %q, %v", v, err)
	}
}
