package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Labs brought up at the same time (test packages run in parallel) get
// different subnets and all work.
func TestLabsInParallel(t *testing.T) {
	skipUnlessRoot(t)
	ctx := context.Background()
	const n = 4
	labs := make([]*Lab, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := Spec{Name: fmt.Sprintf("tpar%d%d", os.Getpid()%10000, i), StateDir: filepath.Join(t.TempDir(), "state"), OwnerPID: os.Getpid()}
			labs[i], errs[i] = Up(ctx, spec)
		}()
	}
	wg.Wait()
	for i, lab := range labs {
		if lab != nil {
			t.Cleanup(func() {
				if err := lab.Down(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	subnets := map[string]string{}
	for _, lab := range labs {
		if other, ok := subnets[lab.Subnet]; ok {
			t.Errorf("labs %s and %s share %s", lab.Name, other, lab.Subnet)
		}
		subnets[lab.Subnet] = lab.Name
		checkHost(t, lab, "pg1")
	}
}

// A lab whose owner died without taking it down is removed by the next
// lab that allocates a subnet.
func TestLabOfDeadOwnerIsReaped(t *testing.T) {
	skipUnlessRoot(t)
	ctx := context.Background()
	owner := exec.Command("sleep", "60")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("tdead%d", os.Getpid()%10000)
	dir := filepath.Join(t.TempDir(), "state")
	orphan, err := Up(ctx, Spec{Name: name, StateDir: dir, OwnerPID: owner.Process.Pid})
	if err != nil {
		owner.Process.Kill()
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Down(context.Background()) })
	owner.Process.Kill()
	owner.Wait()
	if len(labTraces(t, name, dir)) == 0 {
		t.Fatal("the orphan lab left no traces before reaping: the check is blind")
	}
	ForTest(t, Spec{Hosts: 1})
	if tr := labTraces(t, name, dir); len(tr) > 0 {
		t.Errorf("orphan lab still there: %v", tr)
	}
}
