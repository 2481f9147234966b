package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessStat is what the lab and its benchmarks read of a process in
// /proc/PID/stat.
type ProcessStat struct {
	// State is the process state: R, S, D, Z, ...
	State byte
	// PPID is the parent's pid.
	PPID int
	// CPU is the user and system time of the process and of the children
	// it has reaped (utime, stime, cutime, cstime).
	CPU time.Duration
	// Start is the start time in clock ticks after boot, which tells a
	// reused pid from the process that had it before.
	Start uint64
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// ReadProcessStat reads /proc/pid/stat; fs.ErrNotExist means no such
// process.
func ReadProcessStat(pid int) (ProcessStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcessStat{}, err
	}
	return parseProcStat(pid, string(b))
}

// parseProcStat parses the text of /proc/pid/stat.
func parseProcStat(pid int, s string) (ProcessStat, error) {
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses, so split after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ProcessStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[11..14] fields
	// 14-17 (utime, stime, cutime, cstime), f[19] field 22 (starttime).
	if len(f) < 20 {
		return ProcessStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return ProcessStat{}, fmt.Errorf("parse /proc/%d/stat starttime: %w", pid, err)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return ProcessStat{}, fmt.Errorf("parse /proc/%d/stat ppid: %w", pid, err)
	}
	var ticks int64
	for _, k := range []int{11, 12, 13, 14} {
		n, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return ProcessStat{}, fmt.Errorf("parse /proc/%d/stat times: %w", pid, err)
		}
		ticks += n
	}
	return ProcessStat{State: f[0][0], PPID: ppid, CPU: time.Duration(ticks) * time.Second / clockTick, Start: start}, nil
}

// processAlive reports whether pid runs and is not a zombie. A zombie has
// exited; it only waits for a parent that may never reap it (the daemons
// here are reparented to init).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, err := ReadProcessStat(pid)
	return err == nil && st.State != 'Z'
}

// ownerAlive reports whether the process that started at start with pid is
// still running: a reused pid has another start time.
func ownerAlive(pid int, start uint64) bool {
	st, err := ReadProcessStat(pid)
	return err == nil && st.State != 'Z' && st.Start == start
}

// processStart returns pid's start time, for recording an owner.
func processStart(pid int) (uint64, error) {
	st, err := ReadProcessStat(pid)
	if err != nil {
		return 0, fmt.Errorf("read start time of process %d: %w", pid, err)
	}
	return st.Start, nil
}

// namespacePIDs lists the live processes whose network namespace is ns (a
// name under /run/netns), as `ip netns pids` does: by comparing the
// namespace files' device and inode.
func namespacePIDs(ns string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(netnsPath(ns), &want); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat namespace %s: %w", ns, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var got syscall.Stat_t
		if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
			// Gone meanwhile, or a zombie without namespaces.
			continue
		}
		if got.Dev == want.Dev && got.Ino == want.Ino && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// inNamespace reports whether pid is alive in network namespace ns.
func inNamespace(pid int, ns string) bool {
	var want, got syscall.Stat_t
	if syscall.Stat(netnsPath(ns), &want) != nil {
		return false
	}
	if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got) != nil {
		return false
	}
	return got.Dev == want.Dev && got.Ino == want.Ino && processAlive(pid)
}
