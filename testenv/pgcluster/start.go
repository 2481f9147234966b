package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds pg_ctl's own wait for start, stop and promote.
const startTimeout = "60"

// startWait bounds Start's wait for the server to accept connections.
const startWait = 60 * time.Second

// Start starts the server and waits until it accepts connections (a standby
// accepts them once it reached consistency). When the port was picked by
// FreePort and someone else took it meanwhile, Start picks another.
//
// Unless the cluster is Detached, the postmaster is this process's child,
// not pg_ctl's, and is told to shut down immediately (SIGQUIT) when this
// process dies, so that a test binary killed by its timeout leaves no
// servers behind. Detached servers, and those in a network namespace (where
// nsenter's switch to postgres would clear that signal anyway), are started
// with pg_ctl and outlive this process.
func (c *Cluster) Start(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		logStart := fileSize(c.LogFile)
		err := c.startOnce(ctx)
		if err == nil || !c.portChosen || attempt == 3 || !c.logSaysSince(logStart, "could not bind") {
			return err
		}
		p, perr := FreePort()
		if perr != nil {
			return errors.Join(err, perr)
		}
		c.Port = p
		if aerr := c.AppendConf(fmt.Sprintf("port = %d", p)); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
}

func (c *Cluster) startOnce(ctx context.Context) error {
	if c.NetNS != "" || c.Detached {
		_, err := c.run(ctx, c.Bin("pg_ctl"), "start", "-D", c.DataDir, "-l", c.LogFile, "-w", "-t", startTimeout)
		if err != nil {
			return fmt.Errorf("start %s: %w%s", c.Name, err, c.logTail())
		}
		return nil
	}
	log, err := c.openLog()
	if err != nil {
		return err
	}
	// The server outlives ctx, which only bounds the wait below.
	cmd, err := Command(context.Background(), c.Bin("postgres"), "-D", c.DataDir)
	if err != nil {
		log.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	// The parent-death signal follows the thread that forked, not the
	// process. A fresh goroutine never runs on a thread the caller locked
	// with LockOSThread (which Go discards when that goroutine ends, and
	// the server with it); unlocked threads live as long as the process.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	err = <-started
	log.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for {
		if c.pidFileStatus(cmd.Process.Pid) {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("start %s: postgres exited: %v%s", c.Name, err, c.logTail())
		case <-ctx.Done():
			// Do not leave a half-started server behind.
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			return fmt.Errorf("start %s: %w waiting for the server to accept connections%s", c.Name, ctx.Err(), c.logTail())
		case <-time.After(pollInterval):
		}
	}
}

// openLog opens the server log for appending, owned by postgres.
func (c *Cluster) openLog() (*os.File, error) {
	f, err := os.OpenFile(c.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log %s: %w", c.LogFile, err)
	}
	if err := HandOver(c.LogFile); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// pidFileStatus reports whether postmaster.pid belongs to pid and says the
// server accepts connections: "ready" for a primary, "standby" for a hot
// standby that reached consistency (the eighth line, as pg_ctl -w reads it).
func (c *Cluster) pidFileStatus(pid int) bool {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[0]) != strconv.Itoa(pid) {
		return false
	}
	switch strings.TrimSpace(lines[7]) {
	case "ready", "standby":
		return true
	}
	return false
}

// fileSize is the size of path, 0 if it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logSaysSince reports whether the server log, from byte offset on,
// contains s.
func (c *Cluster) logSaysSince(offset int64, s string) bool {
	b, err := os.ReadFile(c.LogFile)
	if err != nil || int64(len(b)) < offset {
		return false
	}
	return strings.Contains(string(b[offset:]), s)
}
