package testenv

import (
	"context"
	"fmt"
)

// Exec runs argv as root inside host's network namespace (with `ip netns
// exec`), in the host's cgroup when it has a CPU budget, and returns its
// combined output; a non-zero exit is an error that includes the output.
// Tests use it to break a host from the inside: take
// its link down, kill its postmaster, look at its sockets.
func (l *Lab) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	h, err := l.host(host)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("exec on host %s: empty command", host)
	}
	out, err := run(ctx, h.inCgroup(append([]string{"ip", "netns", "exec", h.Namespace}, argv...)...)...)
	if err != nil {
		return out, fmt.Errorf("exec on host %s: %w", host, err)
	}
	return out, nil
}
