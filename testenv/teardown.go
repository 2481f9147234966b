package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Down stops the lab: every process in its namespaces (sshd, clusters,
// sessions), the namespaces, the bridges and links, the subnet slots and
// the generated files. It is idempotent: a second Down, or a Down of a lab
// that half came up, succeeds.
func (l *Lab) Down(ctx context.Context) error {
	lk, err := labLock(ctx, l.Name)
	if err != nil {
		return err
	}
	defer lk.unlock()
	if err := l.downLocked(ctx); err != nil {
		return err
	}
	if l.OwnerPID != 0 {
		// Test labs have unique names that never come back; without this,
		// every test run would leave a lock file behind for good.
		lk.remove()
	}
	return nil
}

func (l *Lab) downLocked(ctx context.Context) error {
	var errs []error
	// PostgreSQL first, with pg_ctl: a SIGTERM from purgeNetwork would
	// be a smart shutdown that waits for its clients.
	if err := l.stopPostgres(ctx); err != nil {
		errs = append(errs, err)
	}
	// sshd next and politely, by its pid file, so its log says why it
	// stopped; purgeNetwork then removes whatever else runs in there.
	for _, h := range l.allHosts() {
		if err := stopSSHD(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := purgeNetwork(ctx, l.Name); err != nil {
		errs = append(errs, err)
	}
	if err := freeSlots(ctx, l.Name); err != nil {
		errs = append(errs, err)
	}
	if err := removeStateFiles(l.StateDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s down: %w", l.Name, err)
	}
	return nil
}

// Purge removes every trace of the lab called name that can be found
// without its state: processes in namespaces NAME-*, those namespaces, the
// root namespace's NAME bridges and veths, and its subnet slots. It is
// what `pgrunbook lab down` falls back to when lab.json is gone.
func Purge(ctx context.Context, name string) error {
	if !labNamePattern.MatchString(name) {
		return fmt.Errorf("purge lab %q: not a lab name", name)
	}
	lk, err := labLock(ctx, name)
	if err != nil {
		return err
	}
	defer lk.unlock()
	if err := purgeNetwork(ctx, name); err != nil {
		return err
	}
	return freeSlots(ctx, name)
}

// purgeNetwork kills the processes of the lab's namespaces and removes the
// namespaces, its root-namespace links and, once their processes are
// gone, the hosts' cgroups (Spec.HostCPU).
func purgeNetwork(ctx context.Context, name string) error {
	nss, err := labNamespaces(name)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range nss {
		if err := killNamespace(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range nss {
		if err := deleteNamespace(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := labRootLinks(name)
	if err != nil {
		errs = append(errs, err)
	}
	for _, link := range links {
		if err := deleteLink(ctx, link); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeCgroups(ctx, name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killNamespace ends every process in namespace ns: SIGTERM, a grace
// period, then SIGKILL.
func killNamespace(ctx context.Context, ns string) error {
	pids, err := namespacePIDs(ns)
	if err != nil || len(pids) == 0 {
		return err
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	if waitGone(ctx, pids, 3*time.Second) {
		return nil
	}
	pids, err = namespacePIDs(ns)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if !waitGone(ctx, pids, 3*time.Second) {
		return fmt.Errorf("kill processes of namespace %s: %v still running", ns, pids)
	}
	return nil
}

// waitGone waits until none of pids is alive, for at most d.
func waitGone(ctx context.Context, pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		alive := false
		for _, pid := range pids {
			if processAlive(pid) {
				alive = true
				break
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stateFiles are the top-level entries of a state directory that the lab
// writes; only these are ever removed, so a state directory given by hand
// never loses anything else.
var stateFiles = []string{
	"hosts", "remote", "archive", "inventory.yml", "id_ed25519", "id_ed25519.pub",
	"known_hosts", "authorized_keys", "ssh_config", stateFileName,
}

// removeStateFiles removes the lab's files from dir, then dir itself if it
// is left empty.
func removeStateFiles(dir string) error {
	var errs []error
	for _, name := range stateFiles {
		// A crash in writeFileAtomic leaves NAME.tmp behind.
		for _, n := range []string{name, name + ".tmp"} {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isLabDir reports whether every entry of a state directory is one the lab
// writes, so that a lab that crashed before its lab.json was written can
// still be replaced.
func isLabDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".tmp")
		if !slices.Contains(stateFiles, name) {
			return false
		}
	}
	return true
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}
