package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A lab's hosts are namespaces sharing this machine's CPUs, so a host that
// is busy slows down every other one; a real fleet, and the Vagrant VMs
// users rehearse on, give each host its own. Spec.HostCPU brings that back:
// every host (the bastion too) gets a cgroup with a CFS bandwidth limit,
// and every process of the host runs in it: its sshd, and so everything
// started over SSH, and what the lab itself starts in the namespace
// (PostgreSQL through pgcluster, Exec). The executor stays outside, as on
// the operator's machine.

// The places the cpu controller is found: cgroup v1 mounts it on its own
// (or as cpu,cpuacct, which /sys/fs/cgroup/cpu links to); with cgroup v2
// alone the unified hierarchy is /sys/fs/cgroup itself.
const (
	cgroupV1CPU  = "/sys/fs/cgroup/cpu"
	cgroupV2Root = "/sys/fs/cgroup"
)

// cgroupPrefix starts the name of every cgroup a lab makes:
// pgrunbook-lab-<lab>-<host>. Lab names hold no '-', so the cgroups of lab
// NAME are exactly those starting with pgrunbook-lab-NAME-.
const cgroupPrefix = "pgrunbook-lab-"

// MinHostCPU is the smallest Spec.HostCPU: a quota of 1 ms (the kernel's
// least) in a period of at most 100 ms.
const MinHostCPU = 0.01

// cpuPeriod is the CFS period of a host's budget. The kernel's default is
// 100 ms; a short one spreads a host's share over time, as a slower CPU
// of its own would, instead of letting a host run flat out for its whole
// quota and then stall for the rest of a long period, which would add tens
// of milliseconds to a command that happens to cross the boundary.
const cpuPeriod = 10 * time.Millisecond

// cpuHierarchy is a cgroup hierarchy with the cpu controller.
type cpuHierarchy struct {
	root string
	v2   bool
}

// findCPUHierarchy returns the hierarchy where the lab can give hosts CPU
// budgets, preferring cgroup v1's cpu controller.
func findCPUHierarchy() (cpuHierarchy, error) {
	if _, err := os.Stat(filepath.Join(cgroupV1CPU, "cpu.cfs_quota_us")); err == nil {
		return cpuHierarchy{root: cgroupV1CPU}, nil
	}
	b, err := os.ReadFile(filepath.Join(cgroupV2Root, "cgroup.controllers"))
	if err == nil && slices.Contains(strings.Fields(string(b)), "cpu") {
		return cpuHierarchy{root: cgroupV2Root, v2: true}, nil
	}
	return cpuHierarchy{}, fmt.Errorf("find the cgroup cpu controller: neither cgroup v1 (%s/cpu.cfs_quota_us) nor cgroup v2 with cpu in %s/cgroup.controllers", cgroupV1CPU, cgroupV2Root)
}

// CheckHostCPU reports why this machine cannot give lab hosts CPU budgets
// (Spec.HostCPU), or nil when it can: it needs root and a cgroup hierarchy
// with the cpu controller in which it may create a cgroup and set a quota.
// It tries exactly that on a cgroup of its own and removes it.
func CheckHostCPU() error {
	if os.Geteuid() != 0 {
		return errors.New("host CPU budgets: cgroups need root")
	}
	hier, err := findCPUHierarchy()
	if err != nil {
		return fmt.Errorf("host CPU budgets: %w", err)
	}
	dir := filepath.Join(hier.root, fmt.Sprintf("pgrunbook-probe-%d", os.Getpid()))
	err = hier.create(dir, 0.5)
	if rerr := removeCgroup(context.Background(), dir); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("host CPU budgets: %w", err)
	}
	return nil
}

// cpuQuota turns a budget of cpus CPUs into a CFS quota and period: the
// period is cpuPeriod unless the quota would fall under the kernel's
// 1 ms, in which case the period grows to keep the quota at 1 ms.
func cpuQuota(cpus float64) (quota, period time.Duration) {
	period = cpuPeriod
	quota = time.Duration(math.Round(cpus * float64(period)))
	if quota < time.Millisecond {
		quota = time.Millisecond
		period = time.Duration(math.Round(float64(time.Millisecond) / cpus))
	}
	return quota, period
}

// create makes the cgroup dir (fresh: a leftover of the same name is
// removed first) with a budget of cpus CPUs.
func (hier cpuHierarchy) create(dir string, cpus float64) error {
	if err := removeCgroup(context.Background(), dir); err != nil {
		return err
	}
	if hier.v2 {
		// The cpu controller must be enabled for the children of the root;
		// this fails on a root that already holds processes of its own, as
		// in some containers, and then the lab says so.
		ctl := filepath.Join(hier.root, "cgroup.subtree_control")
		if err := os.WriteFile(ctl, []byte("+cpu"), 0); err != nil {
			return fmt.Errorf("enable the cpu controller in %s: %w", ctl, err)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	quota, period := cpuQuota(cpus)
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	writes := [][2]string{{"cpu.cfs_period_us", us(period)}, {"cpu.cfs_quota_us", us(quota)}}
	if hier.v2 {
		writes = [][2]string{{"cpu.max", us(quota) + " " + us(period)}}
	}
	for _, w := range writes {
		if err := os.WriteFile(filepath.Join(dir, w[0]), []byte(w[1]), 0); err != nil {
			return fmt.Errorf("set %s of cgroup %s to %s: %w", w[0], dir, w[1], err)
		}
	}
	return nil
}

// cgroupDir is the cgroup of host in lab under hierarchy root.
func cgroupDir(root, lab, host string) string {
	return filepath.Join(root, cgroupPrefix+lab+"-"+host)
}

// assignCgroups names every host's cgroup, before lab.json is first
// written, so that a lab that crashes half-built still records them.
func (l *Lab) assignCgroups(hier cpuHierarchy) {
	for _, h := range l.allHosts() {
		h.CPUCgroup = cgroupDir(hier.root, l.Name, h.Name)
	}
}

// createCgroups makes every host's cgroup with the lab's budget; it runs
// before any process of the host starts.
func (l *Lab) createCgroups() error {
	if l.HostCPU == 0 {
		return nil
	}
	hier, err := findCPUHierarchy()
	if err != nil {
		return err
	}
	for _, h := range l.allHosts() {
		if err := hier.create(h.CPUCgroup, l.HostCPU); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	return nil
}

// inCgroup returns argv, run as root from the root namespaces, made to
// join h's cgroup before it executes (see pgcluster's Options.Cgroup for
// why the shell): `ip netns exec` mounts a sysfs of its own namespace over
// /sys, where the cgroup files are no longer to be found, so the move has
// to happen before it. Without a budget argv is returned as it is.
func (h *Host) inCgroup(argv ...string) []string {
	if h.CPUCgroup == "" {
		return argv
	}
	return append([]string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, filepath.Join(h.CPUCgroup, "cgroup.procs")}, argv...)
}

// CPUThrottled returns how long the kernel has held back the processes of
// host because its CPU budget was used up, since the lab came up: zero
// means the budget never limited the host. It is an error for a lab
// without Spec.HostCPU.
func (l *Lab) CPUThrottled(host string) (time.Duration, error) {
	h, err := l.host(host)
	if err != nil {
		return 0, err
	}
	if h.CPUCgroup == "" {
		return 0, fmt.Errorf("lab %s: host %s has no CPU budget", l.Name, host)
	}
	path := filepath.Join(h.CPUCgroup, "cpu.stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read throttled time of host %s: %w", host, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case k == "throttled_time" && perr == nil: // v1, nanoseconds
			return time.Duration(n), nil
		case k == "throttled_usec" && perr == nil: // v2
			return time.Duration(n) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("read throttled time of host %s: no throttled_time or throttled_usec in %s", host, path)
}

// CgroupStrays lists the processes that run in the network namespace of a
// host with a CPU budget but outside the host's cgroup, which the budget
// therefore does not hold, as "host: pid command". It is empty when every
// process is where it belongs, and for a lab without budgets.
//
// A process that is exiting shows the root cgroup (the kernel moves it
// there before it becomes a zombie), so a process is a stray only if it
// is still outside a moment later and is no zombie.
func (l *Lab) CgroupStrays() ([]string, error) {
	first, err := l.cgroupStrays(nil)
	if err != nil || len(first) == 0 {
		return nil, err
	}
	time.Sleep(100 * time.Millisecond)
	again, err := l.cgroupStrays(first)
	if err != nil {
		return nil, err
	}
	strays := slices.Collect(maps.Values(again))
	slices.Sort(strays)
	return strays, nil
}

// cgroupStrays is one pass of CgroupStrays; with only set, it looks at
// those pids alone.
func (l *Lab) cgroupStrays(only map[int]string) (map[int]string, error) {
	strays := map[int]string{}
	for _, h := range l.allHosts() {
		if h.CPUCgroup == "" {
			continue
		}
		v2 := !strings.HasPrefix(h.CPUCgroup, cgroupV1CPU+string(filepath.Separator))
		want := "/" + filepath.Base(h.CPUCgroup)
		pids, err := namespacePIDs(h.Namespace)
		if err != nil {
			return nil, err
		}
		for _, pid := range pids {
			if _, ok := only[pid]; only != nil && !ok {
				continue
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			if err != nil || !processAlive(pid) {
				continue // gone or going meanwhile
			}
			if procCPUCgroup(string(b), v2) != want {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				strays[pid] = fmt.Sprintf("%s: %d %s", h.Name, pid, strings.TrimSpace(string(comm)))
			}
		}
	}
	return strays, nil
}

// procCPUCgroup returns the cpu controller's cgroup in text, the contents
// of a /proc/PID/cgroup: on cgroup v1 the line whose controllers include
// cpu, on v2 the unified line (0::PATH); empty when there is none.
func procCPUCgroup(text string, v2 bool) string {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if v2 && f[0] == "0" && f[1] == "" {
			return f[2]
		}
		if !v2 && slices.Contains(strings.Split(f[1], ","), "cpu") {
			return f[2]
		}
	}
	return ""
}

// removeCgroups removes the cgroups of the lab called name, whether or not
// its state survived, in either hierarchy.
func removeCgroups(ctx context.Context, name string) error {
	var errs []error
	for _, root := range []string{cgroupV1CPU, cgroupV2Root} {
		dirs, _ := filepath.Glob(filepath.Join(root, cgroupPrefix+name+"-*"))
		for _, dir := range dirs {
			if err := removeCgroup(ctx, dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes the cgroup dir; one already gone is fine. The
// lab's processes are gone by now (purgeNetwork killed its namespaces);
// anything still listed is killed, and the removal retried for a moment,
// since a process that has just been killed leaves its cgroup a little
// after its pid stops answering.
func removeCgroup(ctx context.Context, dir string) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
