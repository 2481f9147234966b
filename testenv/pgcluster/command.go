package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	cmd.Env = baseEnv(pu)
	cmd.Dir = "/"
	cmd.SysProcAttr = sysProcAttr(cred)
	return cmd, nil
}

// baseEnv is the whole environment of the programs this package runs.
func baseEnv(pu osUser) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + pu.home,
		"LC_ALL=C",
		"LANG=C",
		"TZ=UTC",
	}
}

// Command prepares program to run as postgres for this cluster: like the
// package-level Command, and inside the cluster's network namespace when
// Options.NetNS was set (so a server started this way listens on the
// namespace's addresses).
func (c *Cluster) Command(ctx context.Context, program string, args ...string) (*exec.Cmd, error) {
	if c.NetNS == "" {
		if c.Cgroup != "" {
			return nil, fmt.Errorf("run %s in cgroup %s: needs a network namespace", filepath.Base(program), c.Cgroup)
		}
		return Command(ctx, program, args...)
	}
	pu, err := postgresUser()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("run %s in network namespace %s: needs root", filepath.Base(program), c.NetNS)
	}
	// nsenter enters the namespace as root and only then drops to
	// postgres, which could not enter it by itself.
	nsArgs := append([]string{"--net=" + filepath.Join(netnsDir, c.NetNS),
		"--setuid", strconv.Itoa(pu.uid), "--setgid", strconv.Itoa(pu.gid), "--", program}, args...)
	cmd := exec.CommandContext(ctx, nsenterPath, nsArgs...)
	if c.Cgroup != "" {
		cmd = exec.CommandContext(ctx, shPath, append([]string{"-c", joinCgroupScript, filepath.Join(c.Cgroup, "cgroup.procs"), nsenterPath}, nsArgs...)...)
	}
	cmd.Env = baseEnv(pu)
	cmd.Dir = "/"
	cmd.SysProcAttr = sysProcAttr(nil)
	return cmd, nil
}

// netnsDir is where `ip netns add` puts named network namespaces.
const netnsDir = "/run/netns"

// nsenterPath is util-linux's nsenter.
const nsenterPath = "/usr/bin/nsenter"

// shPath is the shell that moves a command into its cgroup.
const shPath = "/bin/sh"

// joinCgroupScript is run by root as `sh -c SCRIPT PROCS PROGRAM ARGS...`:
// the shell writes its own pid into the cgroup.procs file PROCS ($0), then
// becomes PROGRAM, so that the program and everything it forks, even at
// once, are in the cgroup; moving the child after it started could miss
// those. It runs before nsenter drops to postgres, who could not write
// the file.
const joinCgroupScript = `echo $$ > "$0" && exec "$@"`

// run runs program as postgres for this cluster and returns its combined
// output; on failure the error names the program, its exit status and its
// output.
func (c *Cluster) run(ctx context.Context, program string, args ...string) (string, error) {
	cmd, err := c.Command(ctx, program, args...)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("run %s %s: %w\n%s", filepath.Base(program), firstArg(args), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
