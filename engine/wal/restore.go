package wal

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// ErrRestoreCommandPercentR is returned for a restore_command that uses
// %r: the last restart point has no meaning outside a running server, and
// pg_rewind refuses it too.
var ErrRestoreCommandPercentR = errors.New("restore_command with %r alias cannot be used")

// RestoreCommand returns a Fetcher that runs restore_command cmd with
// "sh -c", after replacing %p with the destination path, %f with the file
// name and %% with %. Like the server, it does not quote the values;
// segment names and pg_wal paths need none.
func RestoreCommand(cmd string) (Fetcher, error) {
	if strings.TrimSpace(cmd) == "" {
		return nil, errors.New("restore_command is empty")
	}
	if _, err := expandRestoreCommand(cmd, "", ""); err != nil {
		return nil, err
	}
	return func(ctx context.Context, name, dest string) error {
		line, err := expandRestoreCommand(cmd, dest, name)
		if err != nil {
			return err
		}
		c := exec.CommandContext(ctx, "sh", "-c", line)
		out, err := c.CombinedOutput()
		if err == nil {
			return nil
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return fmt.Errorf("restore_command failed: %q was terminated by signal %d: %s", line, ws.Signal(), trimOutput(out))
			}
		}
		return fmt.Errorf("could not restore file \"%s\" from archive: %q: %w: %s", name, line, err, trimOutput(out))
	}, nil
}

// expandRestoreCommand substitutes the % escapes of restore_command. An
// unknown escape is kept as it is, as the server does.
func expandRestoreCommand(cmd, path, name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' || i+1 == len(cmd) {
			b.WriteByte(cmd[i])
			continue
		}
		switch cmd[i+1] {
		case 'p':
			b.WriteString(path)
		case 'f':
			b.WriteString(name)
		case 'r':
			return "", ErrRestoreCommandPercentR
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			continue
		}
		i++
	}
	return b.String(), nil
}

// trimOutput keeps a command's output short enough for an error message.
func trimOutput(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}
