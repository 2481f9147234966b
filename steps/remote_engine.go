package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// defaultRemoteDir is where the engine binary goes when the inventory sets
// no remote_dir.
const defaultRemoteDir = "/var/lib/pgrunbook"

// remoteEngine ships the pgrunbook binary to a host and runs its rewind or
// wal-stage there as the database OS user (DESIGN.md, "Remote engine").
type remoteEngine struct {
	t *runbook.Target
	// binary, when set, is the bastion path of the binary to ship instead
	// of this executable or its pgrunbook-<os>-<arch> sibling.
	binary string
	// remoteDir holds pgrunbook-<sha256> on the host.
	remoteDir string
	// stall, when set, stops a run that prints nothing for that long.
	stall time.Duration
	// workDir, when set, is the private directory engine runs use for
	// their passfile and report instead of making (and removing) one of
	// their own; its owner removes it. The stream's setup makes it early,
	// for its token file, while other work goes on.
	workDir *workDir
}

// newRemoteEngine reads remote_dir from the host's variables.
func newRemoteEngine(t *runbook.Target, binary string) *remoteEngine {
	dir := defaultRemoteDir
	if t.Host != nil {
		if v, ok := t.Host.Vars["remote_dir"]; ok && fmt.Sprint(v) != "" {
			dir = fmt.Sprint(v)
		}
	}
	return &remoteEngine{t: t, binary: binary, remoteDir: dir}
}

// runStreaming runs argv as the become user, turning JSON progress lines
// on standard output into progress events and every other line into
// output events.
//
// A run that prints nothing for e.stall (when set) is stopped with a
// stall error (stall.go).
func (e *remoteEngine) runStreaming(ctx context.Context, argv []string) (transport.Result, error) {
	return e.runWrapped(ctx, argv, transport.Command{Argv: argv}, "")
}

// runWrapped runs cmd, which runs the engine argv (named in stall errors),
// as runStreaming does. When mark is set, the line mark on standard output
// ends the engine's own output: what follows is the engine's report, which
// is neither progress nor output (cutReport takes it out of the result).
func (e *remoteEngine) runWrapped(ctx context.Context, argv []string, cmd transport.Command, mark string) (transport.Result, error) {
	t := e.t
	ctx, watch := watchStall(ctx, e.stall, stallSubject(argv))
	defer watch.stop()
	inReport := false
	cmd.Stdout = func(line string) {
		if inReport {
			return
		}
		if mark != "" && strings.HasSuffix(line, mark) {
			// A last engine line without a newline ends in the mark.
			inReport, line = true, strings.TrimSuffix(line, mark)
			if line == "" {
				return
			}
		}
		if p, ok := progressLine(line); ok {
			watch.alive(&p)
			if t.Progress != nil {
				t.Progress(p)
			}
			return
		}
		watch.alive(nil)
		if t.Output != nil {
			t.Output("stdout", line)
		}
	}
	cmd.Stderr = func(line string) {
		watch.alive(nil)
		if t.Output != nil {
			t.Output("stderr", line)
		}
	}
	res, err := run(ctx, t, cmd)
	if serr := watch.err(); serr != nil {
		return res, serr
	}
	return res, err
}

// progressLine decodes one --progress-json line.
func progressLine(line string) (runbook.Progress, bool) {
	if !strings.HasPrefix(line, "{") {
		return runbook.Progress{}, false
	}
	var p struct {
		Phase string `json:"phase"`
		Done  int64  `json:"done"`
		Total int64  `json:"total"`
		Unit  string `json:"unit"`
	}
	if err := json.Unmarshal([]byte(line), &p); err != nil || p.Phase == "" {
		return runbook.Progress{}, false
	}
	return runbook.Progress{Phase: p.Phase, Done: p.Done, Total: p.Total, Unit: p.Unit}, true
}

// keepReport writes a copy of a report into dir on the bastion, named by
// host, kind and time, and returns its path.
func keepReport(dir string, t *runbook.Target, kind string, rep map[string]any) (string, error) {
	if dir == "" {
		return "", nil
	}
	host := "localhost"
	if t.Host != nil && t.Host.Name != "" {
		host = t.Host.Name
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s report: %w", kind, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create report directory %s: %w", dir, err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.json", host, kind, time.Now().UTC().Format("20060102T150405.000Z")))
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s report %s: %w", kind, p, err)
	}
	return p, nil
}

// errNoEngineOutput is returned when the engine failed without a message.
var errNoEngineOutput = errors.New("the engine failed without a message")

// engineFailure turns a failed engine run into an error with its last
// error lines.
func engineFailure(what string, res transport.Result) error {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s: %w (exit status %d)", what, errNoEngineOutput, res.ExitCode)
	}
	return fmt.Errorf("%s: %s (exit status %d)", what, strings.Join(lines, "; "), res.ExitCode)
}

// engineRun is one run of a rewind program on the host: the argv it ran
// (which carries no password), its result and the report it wrote.
type engineRun struct {
	Argv   []string
	Result transport.Result
	Report map[string]any
}

// runEngine runs program (the shipped pgrunbook, or the host's pg_rewind
// when program is not "") with args, the source connection string as
// --source-server without its password, and, for pgrunbook, --progress-json
// and --report, as one command (engineScript). The passfile and the report
// live in e.workDir when set, else in a private work directory that the
// command makes and removes.
func (e *remoteEngine) runEngine(ctx context.Context, program string, args []string, conninfo string) (*engineRun, error) {
	withReport := program == ""
	if withReport {
		bin, _, err := e.install(ctx)
		if err != nil {
			return nil, err
		}
		program = bin
	}
	if e.workDir != nil {
		return e.runScript(ctx, e.workDir.Path, false, program, args, conninfo, withReport)
	}
	return e.runScript(ctx, "/tmp/pgrunbook-engine."+randomHex(8), true, program, args, conninfo, withReport)
}

// subcommand is the subcommand of an argument list, for messages.
func subcommand(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
