package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sshdBinary is OpenSSH's server; a variable so that a test can make
// sshd fail to start.
var sshdBinary = "/usr/sbin/sshd"

// writeSSHDConfig writes h's sshd_config. Key logins only; no PAM, so that
// nothing outside the lab (pam_systemd, motd, lastlog) slows a login;
// StrictModes off because the state directory may belong to root under a
// temporary directory; TCP forwarding on, because the executor tunnels
// pgx through SSH and hops through the bastion; many sessions, because the
// executor opens a channel per step on one connection.
func (l *Lab) writeSSHDConfig(h *Host) error {
	conf := strings.Join([]string{
		"# Written by pgrunbook's lab for host " + h.Name + " of lab " + l.Name + ".",
		"ListenAddress " + h.SSHAddr(),
		"HostKey " + h.hostKey(),
		"PidFile " + h.pidFile(),
		"AuthorizedKeysFile " + l.statePath("authorized_keys"),
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"AllowTcpForwarding yes",
		"AllowAgentForwarding no",
		"X11Forwarding no",
		"PrintMotd no",
		"PrintLastLog no",
		"UseDNS no",
		"MaxSessions 64",
		"MaxStartups 64",
		"LogLevel VERBOSE",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")
	return writeFileAtomic(h.sshdConfig(), []byte(conf), 0o644)
}

// startSSHD starts h's sshd inside its namespace and waits for its pid
// file. sshd binds its listening socket before it daemonizes and writes
// the pid file after, so once the pid file names a live process, sshd
// accepts connections.
func startSSHD(ctx context.Context, h *Host) error {
	if pid := sshdPID(h); pid != 0 {
		return nil
	}
	os.Remove(h.pidFile())
	// In the host's cgroup, sshd's sessions (and all they start) are too.
	if _, err := run(ctx, h.inCgroup("ip", "netns", "exec", h.Namespace, sshdBinary, "-f", h.sshdConfig(), "-E", h.sshdLog())...); err != nil {
		return fmt.Errorf("start sshd of host %s: %w%s", h.Name, err, logTail(h.sshdLog()))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pid := sshdPID(h); pid != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start sshd of host %s: no live pid in %s after 10s%s", h.Name, h.pidFile(), logTail(h.sshdLog()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start sshd of host %s: %w", h.Name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sshdPID returns the pid of h's listening sshd, or 0 when it does not run:
// the pid file must name a live process inside h's namespace, so that a
// stale pid file never points at an unrelated process.
func sshdPID(h *Host) int {
	b, err := os.ReadFile(h.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !inNamespace(pid, h.Namespace) {
		return 0
	}
	return pid
}

// stopSSHD stops every sshd process of h: the listener and the
// per-connection processes, so that open connections break as when a
// machine goes away.
func stopSSHD(ctx context.Context, h *Host) error {
	pids, err := namespacePIDs(h.Namespace)
	if err != nil {
		return err
	}
	var sshds []int
	for _, pid := range pids {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == sshdBinary {
			sshds = append(sshds, pid)
		}
	}
	for _, pid := range sshds {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	if !waitGone(ctx, sshds, 3*time.Second) {
		for _, pid := range sshds {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if !waitGone(ctx, sshds, 3*time.Second) {
			return fmt.Errorf("stop sshd of host %s: processes %v survive SIGKILL", h.Name, sshds)
		}
	}
	if err := os.Remove(h.pidFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stop sshd of host %s: %w", h.Name, err)
	}
	return nil
}

// StopSSHD stops the sshd of host, including its open connections, for
// tests of unreachable hosts. Stopping a stopped sshd is fine.
func (l *Lab) StopSSHD(ctx context.Context, host string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	return stopSSHD(ctx, h)
}

// StartSSHD starts the sshd of host again after StopSSHD (or a crash);
// starting a running sshd is fine.
func (l *Lab) StartSSHD(ctx context.Context, host string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	return startSSHD(ctx, h)
}

// ReplaceHostKey gives host a new host key and restarts its sshd, leaving
// known_hosts as it is: clients that check host keys must now refuse the
// host, as they would a machine impersonating it.
func (l *Lab) ReplaceHostKey(ctx context.Context, host string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	if err := stopSSHD(ctx, h); err != nil {
		return err
	}
	if _, err := writeKeyPair(h.hostKey(), "replaced-"+h.Name+"@"+l.Name); err != nil {
		return fmt.Errorf("replace host key of %s: %w", h.Name, err)
	}
	return startSSHD(ctx, h)
}

// logTail returns the end of a log file, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	return "\n" + path + ":\n" + strings.TrimSpace(string(b))
}
