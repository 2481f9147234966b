package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LoginHome is the login user's home: its own, because root's ~/.bashrc on
// these machines costs about half a second per SSH command.
const LoginHome = "/var/lib/pgrunbook/home"

// sudoersPath is the drop-in that lets the login user become anyone.
const sudoersPath = "/etc/sudoers.d/pgrunbook"

const sudoersRule = LoginUser + " ALL=(ALL) NOPASSWD: ALL"

// EnsureLoginUser makes this machine ready to serve lab logins, and does
// nothing that is already done: the system user pgrb with shell /bin/sh
// and home LoginHome, an account sshd does not consider locked, the
// sudoers drop-in that lets pgrb `sudo -n` to postgres and root, and
// sshd's privilege separation directory /run/sshd. Other test helpers may
// be doing the same at the same time, so every step tolerates losing a
// race to an identical one.
func EnsureLoginUser(ctx context.Context) error {
	lk, err := lockFile(ctx, filepath.Join(BaseDir, ".setup.lock"))
	if err != nil {
		return err
	}
	defer lk.unlock()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("create sshd privilege separation dir /run/sshd: %w", err)
	}
	if err := ensureUser(ctx); err != nil {
		return err
	}
	return ensureSudoers(ctx)
}

func ensureUser(ctx context.Context) error {
	u, err := lookupOrAddUser(ctx)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(LoginHome, 0o755); err != nil {
		return fmt.Errorf("create home %s: %w", LoginHome, err)
	}
	if err := os.Chown(LoginHome, uid, gid); err != nil {
		return fmt.Errorf("chown home %s: %w", LoginHome, err)
	}
	if err := os.Chmod(LoginHome, 0o755); err != nil {
		return fmt.Errorf("chmod home %s: %w", LoginHome, err)
	}
	locked, err := accountLocked(LoginUser)
	if err != nil {
		return err
	}
	if locked {
		// useradd leaves the password field "!", which sshd without PAM
		// reads as a locked account and refuses even key logins; "*" is
		// "no password" without the lock.
		if _, err := retryRun(ctx, "usermod", "-p", "*", LoginUser); err != nil {
			return fmt.Errorf("unlock login user %s: %w", LoginUser, err)
		}
	}
	return nil
}

// lookupOrAddUser returns the login user, creating it when missing; a
// concurrent creation by someone else counts as success.
func lookupOrAddUser(ctx context.Context) (*user.User, error) {
	var addErr error
	for i := 0; i < 10; i++ {
		if u, err := user.Lookup(LoginUser); err == nil {
			return u, nil
		}
		if _, addErr = run(ctx, "useradd", "--system", "--shell", "/bin/sh",
			"--home-dir", LoginHome, "--no-create-home", "--user-group", LoginUser); addErr == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("create login user %s: %w", LoginUser, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("create login user %s: %w", LoginUser, addErr)
}

// accountLocked reports whether name's password field in /etc/shadow marks
// the account as locked for sshd.
func accountLocked(name string) (bool, error) {
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return false, fmt.Errorf("read /etc/shadow: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) >= 2 && f[0] == name {
			return strings.HasPrefix(f[1], "!") || strings.HasPrefix(f[1], "*LK*"), nil
		}
	}
	return false, fmt.Errorf("read /etc/shadow: no entry for %s", name)
}

func ensureSudoers(ctx context.Context) error {
	if b, err := os.ReadFile(sudoersPath); err == nil && bytes.Contains(b, []byte(sudoersRule)) {
		return nil
	}
	// sudo ignores files in sudoers.d whose names contain a dot, so the
	// temporary file is never read half-written.
	tmp := sudoersPath + ".tmp"
	content := "# Written by pgrunbook's lab: the lab's login user becomes postgres and root with sudo -n.\n" + sudoersRule + "\n"
	if err := os.WriteFile(tmp, []byte(content), 0o440); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o440); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err := run(ctx, "visudo", "-cf", tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("validate sudoers drop-in: %w", err)
	}
	if err := os.Rename(tmp, sudoersPath); err != nil {
		return fmt.Errorf("install %s: %w", sudoersPath, err)
	}
	return nil
}

// retryRun runs argv, retrying a few times: useradd and usermod fail when
// another process holds the passwd/shadow locks for a moment.
func retryRun(ctx context.Context, argv ...string) ([]byte, error) {
	var out []byte
	var err error
	for i := 0; i < 10; i++ {
		if out, err = run(ctx, argv...); err == nil {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(100 * time.Millisecond):
		}
	}
	return out, err
}
