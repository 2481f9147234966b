package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// A lab with HostCPU puts every process of a host in the host's cgroup:
// its sshd, what runs over SSH (sudo included), what Exec runs, its
// PostgreSQL (started by the lab and restarted by a test), its children; the
// quota holds back a busy host; Down removes the cgroups.
func TestLabHostCPU(t *testing.T) {
	skipUnlessRoot(t)
	if err := CheckHostCPU(); err != nil {
		t.Skipf("testenv: %v; skipping", err)
	}
	lab := ForTest(t, Spec{Hosts: 1, Bastion: true, Postgres: true, HostCPU: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if lab.HostCPU != 0.5 {
		t.Errorf("lab.HostCPU = %g, want 0.5", lab.HostCPU)
	}
	for _, h := range lab.allHosts() {
		t.Run(h.Name, func(t *testing.T) {
			if h.CPUCgroup == "" {
				t.Fatal("no cgroup")
			}
			v2 := !strings.HasPrefix(h.CPUCgroup, cgroupV1CPU+"/")
			checkQuota(t, h, v2)
			want := "/" + filepath.Base(h.CPUCgroup)
			in := func(what, text string) {
				t.Helper()
				if got := procCPUCgroup(text, v2); got != want {
					t.Errorf("%s: cgroup %q, want %q", what, got, want)
				}
			}
			in("sshd", procCgroupText(t, sshdPID(h)))
			c, err := dialHost(t, lab, h.Name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			in("a command over SSH", remote(t, c, "cat /proc/self/cgroup"))
			in("sudo over SSH", remote(t, c, "sudo -n -u postgres cat /proc/self/cgroup"))
			out, err := lab.Exec(ctx, h.Name, "cat", "/proc/self/cgroup")
			if err != nil {
				t.Fatal(err)
			}
			in("Exec", string(out))
			if h == lab.Bastion {
				return
			}
			pg := lab.PGCluster(h.Name)
			in("the postmaster started by Up", procCgroupText(t, postmasterPID(t, h)))
			if err := pg.Stop(ctx, pgcluster.StopFast); err != nil {
				t.Fatal(err)
			}
			if err := pg.Start(ctx); err != nil {
				t.Fatal(err)
			}
			in("the postmaster started again through PGCluster", procCgroupText(t, postmasterPID(t, h)))
			// A child the postmaster forked and keeps: a backend that
			// answered a query is already exiting when it is looked at,
			// and an exiting process shows the root cgroup.
			v, err := pg.QueryValue(ctx, "postgres", "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(v)
			in("the checkpointer, a child of the postmaster", procCgroupText(t, pid))

			// A shell that burns 0.3 s of CPU on a host allowed half a
			// CPU needs at least 0.6 s: never less than 1.6 times its
			// CPU time, however busy the machine (a busier machine only
			// gives it less).
			before, err := lab.CPUThrottled(h.Name)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err = lab.Exec(ctx, h.Name, "sh", "-c", burnCPU)
			wall := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			var user, sys int
			if _, err := fmt.Sscan(string(out), &user, &sys); err != nil {
				t.Fatalf("burn CPU: %q: %v", out, err)
			}
			cpu := time.Duration(user+sys) * 10 * time.Millisecond
			if wall < cpu*16/10 {
				t.Errorf("%v of CPU took %v at 0.5 CPU, want at least %v", cpu, wall, cpu*16/10)
			}
			after, err := lab.CPUThrottled(h.Name)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v of CPU in %v; held back %v", cpu, wall, after-before)
		})
	}
	// Every process of every host, after all of the above.
	strays, err := lab.CgroupStrays()
	if err != nil {
		t.Fatal(err)
	}
	if len(strays) > 0 {
		t.Errorf("processes outside their host's cgroup: %v", strays)
	}
	// And the check sees one that is not: a sleep put in pg1's namespace
	// the way the lab never does, without the cgroup.
	sleep := exec.Command("ip", "netns", "exec", lab.Host("pg1").Namespace, "sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Wait()
	defer sleep.Process.Kill()
	var found bool
	for deadline := time.Now().Add(3 * time.Second); !found && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		strays, err = lab.CgroupStrays()
		if err != nil {
			t.Fatal(err)
		}
		found = slices.Contains(strays, fmt.Sprintf("pg1: %d sleep", sleep.Process.Pid))
	}
	if !found {
		t.Errorf("strays with a sleep outside pg1's cgroup: %v, want it listed", strays)
	}
	sleep.Process.Kill()
	if err := lab.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range lab.allHosts() {
		if _, err := os.Stat(h.CPUCgroup); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: cgroup %s after Down: %v", h.Name, h.CPUCgroup, err)
		}
	}
}

// checkQuota checks that h's cgroup allows half a CPU: 5 ms every 10 ms.
func checkQuota(t *testing.T, h *Host, v2 bool) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(h.CPUCgroup, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if v2 {
		if got := read("cpu.max"); got != "5000 10000" {
			t.Errorf("cpu.max = %q, want 5000 10000", got)
		}
		return
	}
	if q, p := read("cpu.cfs_quota_us"), read("cpu.cfs_period_us"); q != "5000" || p != "10000" {
		t.Errorf("quota %s us per %s us, want 5000 per 10000", q, p)
	}
}

// burnCPU is a shell that uses 0.3 s of CPU itself (30 ticks of
// /proc/$$/stat's utime plus stime, USER_HZ 100) and prints its ticks.
const burnCPU = `while :; do read -r s < /proc/$$/stat; set -- $s; [ $(( ${14} + ${15} )) -ge 30 ] && break; done; echo ${14} ${15}`

// procCgroupText reads /proc/PID/cgroup.
func procCgroupText(t *testing.T, pid int) string {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no process (pid %d)", pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// postmasterPID reads the pid of h's running postmaster from its
// postmaster.pid.
func postmasterPID(t *testing.T, h *Host) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dirs.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("postmaster.pid of %s: %v", h.Name, err)
	}
	return pid
}
