package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Subnets are handed out as slots K (10.77.K.0/24, K in 0..255), one file
// per taken slot under slotDir, read and written only under slotLockPath.
// A file outlives the process that wrote it, which is what lets `pgrunbook
// lab down` in a new process free the slots of `lab up`.
var (
	slotDir      = filepath.Join(BaseDir, ".subnets")
	slotLockPath = filepath.Join(BaseDir, ".subnets.lock")
)

// slotRecord says which lab holds a slot.
type slotRecord struct {
	Slot       int    `json:"slot"`
	Lab        string `json:"lab"`
	StateDir   string `json:"state_dir"`
	OwnerPID   int    `json:"owner_pid,omitempty"`
	OwnerStart uint64 `json:"owner_start,omitempty"`
}

func slotFile(k int) string { return filepath.Join(slotDir, strconv.Itoa(k)+".json") }

// readSlots returns every slot record.
func readSlots() ([]slotRecord, error) {
	entries, err := os.ReadDir(slotDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list subnet slots: %w", err)
	}
	var recs []slotRecord
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(slotDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read subnet slot %s: %w", e.Name(), err)
		}
		var r slotRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("parse subnet slot %s: %w", e.Name(), err)
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Slot < recs[j].Slot })
	return recs, nil
}

// allocateSlots takes n free slots for lab. On the way it tears down the
// labs of owners that died (tests killed before their cleanup ran), so
// their slots, namespaces and sshds do not pile up.
func allocateSlots(ctx context.Context, lab *Lab, n int) ([]int, error) {
	lk, err := lockFile(ctx, slotLockPath)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if err := os.MkdirAll(slotDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", slotDir, err)
	}
	recs, err := readSlots()
	if err != nil {
		return nil, err
	}
	taken, err := usedSubnets()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.OwnerPID != 0 && !ownerAlive(r.OwnerPID, r.OwnerStart) && r.Lab != lab.Name {
			if err := purgeNetwork(ctx, r.Lab); err != nil {
				return nil, fmt.Errorf("tear down lab %s of dead process %d: %w", r.Lab, r.OwnerPID, err)
			}
			if err := os.Remove(slotFile(r.Slot)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("free subnet slot %d: %w", r.Slot, err)
			}
			os.Remove(labLockPath(r.Lab))
			// Its addresses are gone with its bridge.
			delete(taken, r.Slot)
			continue
		}
		taken[r.Slot] = true
	}
	var slots []int
	for k := 0; k < 256 && len(slots) < n; k++ {
		if !taken[k] {
			slots = append(slots, k)
		}
	}
	if len(slots) < n {
		return nil, fmt.Errorf("allocate subnet for lab %s: all of 10.77.0.0/16 is taken", lab.Name)
	}
	for _, k := range slots {
		r := slotRecord{Slot: k, Lab: lab.Name, StateDir: lab.StateDir, OwnerPID: lab.OwnerPID, OwnerStart: lab.OwnerStart}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode subnet slot %d: %w", k, err)
		}
		if err := os.WriteFile(slotFile(k), b, 0o644); err != nil {
			return nil, fmt.Errorf("write subnet slot %d: %w", k, err)
		}
	}
	return slots, nil
}

// freeSlots releases every slot held by the lab called name.
func freeSlots(ctx context.Context, name string) error {
	lk, err := lockFile(ctx, slotLockPath)
	if err != nil {
		return err
	}
	defer lk.unlock()
	recs, err := readSlots()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Lab != name {
			continue
		}
		if err := os.Remove(slotFile(r.Slot)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("free subnet slot %d of lab %s: %w", r.Slot, name, err)
		}
	}
	return nil
}

// findStateDir returns the state directory recorded for the lab called
// name in the slot records, or "".
func findStateDir(name string) string {
	recs, err := readSlots()
	if err != nil {
		return ""
	}
	for _, r := range recs {
		if r.Lab == name {
			return r.StateDir
		}
	}
	return ""
}
