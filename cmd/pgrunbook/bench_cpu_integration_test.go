package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// clockTick is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTick = 100

// machineBusy is the CPU time every process of the machine has used since
// boot (/proc/stat's first line without idle and iowait): the lab's sshd,
// sudo, shells, postgres and engines run in network namespaces, not in
// this process, so only the machine-wide count sees a rejoin's whole cost.
// It counts whatever else the machine runs too, which is why the benchmark
// prints the load average next to it.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// selfCPU is the user and system time of this process: the bastion's
// pgrunbook, which the benchmark runs in-process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuLog collects a run's JSON event lines and, with each line, the
// machine's busy time when it was written: the renderer writes one event
// per Write, so a step's end carries the CPU the machine had used by then.
type cpuLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	busy  []time.Duration
	start time.Duration
}

func newCPULog() *cpuLog { return &cpuLog{start: machineBusy()} }

// Write keeps p and samples the machine's busy time once per line of it.
func (l *cpuLog) Write(p []byte) (int, error) {
	now := machineBusy()
	l.mu.Lock()
	defer l.mu.Unlock()
	for range bytes.Count(p, []byte("\n")) {
		l.busy = append(l.busy, now)
	}
	return l.buf.Write(p)
}

// String is everything written.
func (l *cpuLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// labSnapshot is the CPU of every process in the lab's network namespaces
// (each host's sshd with its sessions, sudo, shells and engines, the
// postgres servers, the bastion's sshd) at one moment, by pid.
type labSnapshot map[int]testenv.ProcessStat

// labNamespaces returns the inode numbers of lab's network namespaces,
// which /proc/PID/ns/net names as net:[INODE].
func labNamespaces(lab *testenv.Lab) map[string]bool {
	inodes := map[string]bool{}
	hosts := append([]*testenv.Host{}, lab.Hosts...)
	if lab.Bastion != nil {
		hosts = append(hosts, lab.Bastion)
	}
	for _, h := range hosts {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/run/netns", h.Namespace), &st); err == nil {
			inodes[fmt.Sprintf("net:[%d]", st.Ino)] = true
		}
	}
	return inodes
}

// snapshotLab reads the CPU of every process whose network namespace is
// one of inodes.
func snapshotLab(inodes map[string]bool) labSnapshot {
	snap := labSnapshot{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		ns, err := os.Readlink(filepath.Join(d, "ns", "net"))
		if err != nil || !inodes[ns] {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := testenv.ReadProcessStat(pid); err == nil {
			snap[pid] = st
		}
	}
	return snap
}

// since is the CPU the lab's processes used after before was taken: what
// each live process used since (all of it for a new one), which includes
// what the processes that ended meanwhile used, once their parent reaped
// them (sshd reaps its sessions, the postmaster its backends).
func (after labSnapshot) since(before labSnapshot) time.Duration {
	var cpu time.Duration
	for pid, p := range after {
		if b, ok := before[pid]; ok && b.Start == p.Start {
			cpu += p.CPU - b.CPU
			continue
		}
		cpu += p.CPU
	}
	return cpu
}
