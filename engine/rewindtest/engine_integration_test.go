package rewindtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestEngineScenarios reruns every scenario of this package against
// pgrunbook's own rewind engine: it builds the pgrunbook binary, puts a
// wrapper named pg_rewind in front of `pgrunbook rewind`, and runs this
// test binary again with PGRUNBOOK_REWIND_BIN naming the wrapper. The
// oracle run (PostgreSQL's pg_rewind) and the engine run thus share every
// scenario and every assertion. When PGRUNBOOK_REWIND_BIN is already set,
// the whole package runs against that binary and this test has nothing to
// add.
func TestEngineScenarios(t *testing.T) {
	if bin := os.Getenv(EnvBin); bin != "" {
		t.Skipf("the scenarios already run against %s", bin)
	}
	requireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	wrapper := buildEngineWrapper(t, ctx)

	args := []string{"-test.run", "^Test", "-test.skip", "^TestEngineScenarios$", "-test.count", "1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), EnvBin+"="+wrapper)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("scenarios against pgrunbook rewind (%s) failed: %v\n%s", wrapper, err, out.String())
	}
	t.Logf("scenarios against pgrunbook rewind:\n%s", tail(out.String(), reportLines))
}

// buildEngineWrapper builds cmd/pgrunbook into a directory postgres can
// read and returns the path of a pg_rewind wrapper script that execs
// `pgrunbook rewind "$@"`.
func buildEngineWrapper(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "pgrunbook")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/pgrunbook/pgrunbook/cmd/pgrunbook")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pgrunbook: %v\n%s", err, out)
	}
	wrapper := filepath.Join(dir, "pg_rewind")
	script := fmt.Sprintf("#!/bin/sh\nexec %s rewind \"$@\"\n", bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, bin, wrapper} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgcluster.HandOver(dir); err != nil {
		t.Fatal(err)
	}
	return wrapper
}
