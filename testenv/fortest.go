package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"
)

// ForTest brings up a lab for the test t and tears it down when t ends.
// The lab gets a unique name (spec.Name is ignored) and a state directory
// under t.TempDir() (unless spec.StateDir is set), and belongs to the test
// process, so a later Up removes it if the process dies before its
// cleanup. Without root the test is skipped: the lab needs network
// namespaces; CI runs as root.
func ForTest(t testing.TB, spec Spec) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("testenv: the lab needs root (network namespaces, sshd); skipping")
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: name a lab: %v", err)
	}
	// "t" and 7 hex digits: unique across parallel test binaries and within
	// the 10 characters a lab name may have.
	spec.Name = "t" + hex.EncodeToString(b[:])[:7]
	if spec.StateDir == "" {
		spec.StateDir = t.TempDir()
	}
	spec.OwnerPID = os.Getpid()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lab, err := Up(ctx, spec)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Registered after t.TempDir's own cleanup, so it runs before the state
	// directory is removed.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lab.Down(ctx); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return lab
}
