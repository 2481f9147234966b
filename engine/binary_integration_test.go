package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

var (
	buildOnce    sync.Once
	builtWrapper string
	builtDir     string
	buildErr     error
)

// engineRewinder builds cmd/pgrunbook once per test binary, in a directory
// postgres can read, behind a wrapper named pg_rewind that execs
// `pgrunbook rewind "$@"` (the rewind refuses to run as root, so the
// tests run it as postgres, like pg_rewind).
func engineRewinder(t *testing.T) rewindtest.Rewinder {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pgrunbook-engine-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtDir = dir
		bin := filepath.Join(dir, "pgrunbook")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.CommandContext(context.Background(), goTool, "build", "-o", bin,
			"github.com/pgrunbook/pgrunbook/cmd/pgrunbook").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build pgrunbook: %v\n%s", err, out)
			return
		}
		wrapper := filepath.Join(dir, "pg_rewind")
		if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+bin+" rewind \"$@\"\n"), 0o755); err != nil {
			buildErr = err
			return
		}
		for _, p := range []string{dir, bin, wrapper} {
			if err := os.Chmod(p, 0o755); err != nil {
				buildErr = err
				return
			}
		}
		buildErr = pgcluster.HandOver(dir)
		builtWrapper = wrapper
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return rewindtest.Rewinder{Path: builtWrapper}
}

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// requireRoot skips integration tests that need to run servers as
// postgres.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the engine's integration tests run PostgreSQL and the rewind as the postgres user and need root")
	}
}

// copyTree copies a directory with owners, modes and links (cp -a).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

// copyFile copies a regular file's content, keeping dst's mode if it
// exists.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pgcluster.HandOver(dst); err != nil {
		t.Fatal(err)
	}
}
