package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// TestLabCommands runs up, status and down as an operator would, with
// each step opening the lab afresh from its state directory.
func TestLabCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab commands need root (network namespaces, sshd); skipping")
	}
	ctx := context.Background()
	opts := labOptions{Name: fmt.Sprintf("tcli%d", os.Getpid()%100000), StateDir: filepath.Join(t.TempDir(), "lab")}
	t.Cleanup(func() { testenv.Purge(context.Background(), opts.Name) })

	var out bytes.Buffer
	if err := runLabUp(ctx, labUpOptions{labOptions: opts, Hosts: 2, Bastion: true}, &out); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out.String())
	}
	for _, want := range []string{"bastion", "pg1", "pg2", filepath.Join(opts.StateDir, "inventory.yml"), "up (pid "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lab up output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if err := runLabStatus(ctx, opts, &out); err != nil {
		t.Fatalf("lab status: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "up (pid "); n != 3 {
		t.Errorf("lab status shows %d live sshds, want 3:\n%s", n, out.String())
	}

	lab, err := testenv.Open(ctx, opts.Name, opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.StopSSHD(ctx, "pg2"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = runLabStatus(ctx, opts, &out)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "pg2") {
		t.Errorf("lab status with pg2's sshd stopped: %v, want exit 1 naming pg2", err)
	}

	out.Reset()
	if err := runLabDown(ctx, opts, &out); err != nil {
		t.Fatalf("lab down: %v", err)
	}
	if !strings.Contains(out.String(), "is down") {
		t.Errorf("lab down output: %s", out.String())
	}
	if err := runLabStatus(ctx, opts, &out); err == nil {
		t.Error("lab status after down succeeds")
	}
	out.Reset()
	if err := runLabDown(ctx, opts, &out); err != nil {
		t.Errorf("second lab down: %v", err)
	}
}
