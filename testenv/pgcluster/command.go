package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Command prepares program to run as the postgres OS user with a small,
// predictable environment: C locale (so messages are the English ones tests
// look for), postgres's HOME, and no PG* variables inherited from the test
// process. Add to cmd.Env to pass more.
func Command(ctx context.Context, program string, args ...string) (*exec.Cmd, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	pu, err := postgresUser()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + pu.home,
		"LC_ALL=C",
		"LANG=C",
		"TZ=UTC",
	}
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr = sysProcAttr(cred)
	}
	return cmd, nil
}

// run runs program as postgres and returns its combined output; on failure
// the error names the program, its exit status and its output.
func run(ctx context.Context, program string, args ...string) (string, error) {
	cmd, err := Command(ctx, program, args...)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("run %s %s: %w\n%s", baseName(program), firstArg(args), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, os.PathSeparator); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
