package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// checkTargetStopped refuses a target that a server is running on, before
// the crash recovery that would otherwise fail on the lock file with a
// message about single-user mode. The postmaster.pid of a running server
// names a live process; a stale one, left by a crash, names none.
func (r *run) checkTargetStopped() error {
	pidFile := filepath.Join(r.opts.TargetDir, "postmaster.pid")
	pid, err := readPostmasterPID(pidFile)
	if err != nil || pid <= 0 {
		return nil
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return nil
	}
	return &Error{
		Msg: ErrTargetNotShutDown.Error(),
		Detail: fmt.Sprintf("a server is running on %s (%s names process %d); stop it cleanly (pg_ctl stop -m fast) and rerun",
			r.opts.TargetDir, pidFile, pid),
		Err: ErrTargetNotShutDown,
	}
}

// readPostmasterPID reads the process id on the first line of a
// postmaster.pid file.
func readPostmasterPID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("read %s: empty", path)
	}
	return strconv.Atoi(sc.Text())
}
