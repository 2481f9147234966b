package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// workDir is a private directory (0700) of the become user on the host,
// for the report and the passfile; remove deletes it.
type workDir struct {
	e    *remoteEngine
	Path string
}

// newWorkDir creates the private directory as the become user.
func (e *remoteEngine) newWorkDir(ctx context.Context) (*workDir, error) {
	res, err := run(ctx, e.t, transport.Command{Argv: []string{"mktemp", "-d", "/tmp/pgrunbook-engine.XXXXXXXX"}})
	if err != nil {
		return nil, fmt.Errorf("create engine work directory: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("create engine work directory: %w", failure(res))
	}
	return &workDir{e: e, Path: strings.TrimSpace(res.Stdout)}, nil
}

// remove deletes the directory, passfile included, even when ctx is done.
func (w *workDir) remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := run(ctx, w.e.t, transport.Command{Argv: []string{"rm", "-rf", "--", w.Path}})
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return fmt.Errorf("remove engine work directory %s: %w", w.Path, err)
	}
	return nil
}
