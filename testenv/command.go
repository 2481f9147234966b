package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// run runs argv and returns its combined output; a failure names the
// command and includes what it printed.
func run(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// A daemon started by argv may keep our pipes open a moment after
	// argv itself exits; do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// ip runs iproute2's ip with args.
func ip(ctx context.Context, args ...string) error {
	_, err := run(ctx, append([]string{"ip"}, args...)...)
	return err
}
