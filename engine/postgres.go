package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// debianBinDir is where Debian and Ubuntu install the binaries of each
// major version side by side; pg_rewind finds postgres next to itself,
// which for pg_rewind 15 is this directory with major 15.
const debianBinDir = "/usr/lib/postgresql/%s/bin"

// postgres finds the postgres binary of the target's major version:
// BinDir if given, else the Debian directory named by the target's
// PG_VERSION, else the PATH. Its version must match PG_VERSION.
func (r *run) postgres(ctx context.Context) (string, error) {
	if r.postgresPath != "" {
		return r.postgresPath, nil
	}
	major, err := r.targetMajor()
	if err != nil {
		return "", err
	}
	dir := r.opts.BinDir
	if dir == "" {
		dir = fmt.Sprintf(debianBinDir, major)
	}
	path := filepath.Join(dir, "postgres")
	if _, err := os.Stat(path); err != nil {
		if r.opts.BinDir != "" {
			return "", fmt.Errorf("program \"postgres\" is needed by pg_rewind but was not found in \"%s\": %w", dir, err)
		}
		if path, err = exec.LookPath("postgres"); err != nil {
			return "", fmt.Errorf("program \"postgres\" is needed by pg_rewind but was not found in \"%s\" or the PATH", dir)
		}
	}
	out, err := exec.CommandContext(ctx, path, "-V").Output()
	if err != nil {
		return "", fmt.Errorf("run %s -V: %w", path, err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian ...)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 || strings.SplitN(fields[2], ".", 2)[0] != major {
		return "", fmt.Errorf("program \"postgres\" was found by \"%s\" but was not the same version as the target cluster (%s): %s",
			path, major, strings.TrimSpace(string(out)))
	}
	r.postgresPath = path
	return path, nil
}

// targetMajor reads the target's PG_VERSION ("15").
func (r *run) targetMajor() (string, error) {
	b, err := os.ReadFile(r.targetPath("PG_VERSION"))
	if err != nil {
		return "", fmt.Errorf("read PG_VERSION of target %s: %w", r.opts.TargetDir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// configArgs are the -c config_file=... arguments for --config-file.
func (r *run) configArgs() []string {
	if r.opts.ConfigFile == "" {
		return nil
	}
	return []string{"-c", "config_file=" + r.opts.ConfigFile}
}

// readRestoreCommand asks the target's configuration for restore_command
// (-c), with `postgres -C`, so that includes, auto.conf and --config-file
// are honoured exactly as the server would.
func (r *run) readRestoreCommand(ctx context.Context) error {
	pg, err := r.postgres(ctx)
	if err != nil {
		return err
	}
	args := append([]string{"-D", r.opts.TargetDir}, r.configArgs()...)
	args = append(args, "-C", "restore_command")
	cmd := exec.CommandContext(ctx, pg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return &Error{Msg: fmt.Sprintf("could not read restore_command from the target cluster: %v", err),
			Detail: "Command was: " + pg + " " + strings.Join(args, " ") + "\n" + strings.TrimSpace(stderr.String()), Err: err}
	}
	rc := strings.TrimRight(string(out), "\r\n")
	if rc == "" {
		return ErrRestoreCommandUnset
	}
	r.restoreCommand = rc
	r.infof("using for rewind restore_command = '%s'", rc)
	return nil
}
