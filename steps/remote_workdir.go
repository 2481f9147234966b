package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
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

// writePassfile writes a libpq passfile holding password into the work
// directory, through standard input so that the password is on no
// command line, and returns its path.
func (w *workDir) writePassfile(ctx context.Context, password string) (string, error) {
	p := path.Join(w.Path, "pgpass")
	res, err := run(ctx, w.e.t, transport.Command{
		Argv:  []string{"sh", "-c", `umask 077 && cat > "$1"`, "pgrunbook", p},
		Stdin: strings.NewReader(passfileLine(password)),
	})
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return "", fmt.Errorf("write passfile %s: %w", p, err)
	}
	return p, nil
}

// readReport reads the engine's JSON report from the host.
func (w *workDir) readReport(ctx context.Context, p string) (map[string]any, error) {
	b, ok, err := readFile(ctx, w.e.t, p)
	if err != nil {
		return nil, fmt.Errorf("read engine report %s: %w", p, err)
	}
	if !ok {
		return nil, fmt.Errorf("read engine report %s: the engine wrote none", p)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("parse engine report %s: %w", p, err)
	}
	return rep, nil
}
