package transport

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// uniqueSleep returns a sleep argument no other process on the machine
// uses, so the test can find its own sleep in the process list.
func uniqueSleep() string {
	return fmt.Sprintf("300.%09d", rand.IntN(1e9))
}

// processesWith returns the pids whose command line contains arg.
func processesWith(arg string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				pids = append(pids, filepath.Base(d))
				break
			}
		}
	}
	return pids
}

// waitForProcess waits until a process with arg is running.
func waitForProcess(t *testing.T, arg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(processesWith(arg)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no process with argument %s appeared within %s", arg, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForNoProcess fails the test unless every process with arg is gone
// within the given time.
func waitForNoProcess(t *testing.T, arg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := processesWith(arg)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v with argument %s still running after %s", pids, arg, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
