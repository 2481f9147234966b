package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// engineScript runs the engine in a private work directory that lives
// for this one command: it makes the directory, writes the passfile from
// standard input when there is a password, runs the engine, prints the
// report after a mark line and removes the directory, even when the
// command is cancelled (the watchdog's SIGTERM ends the script through
// its EXIT trap). One command instead of four (mktemp, the run, cat of
// the report, rm) saves three SSH sessions and three sudo runs per engine
// run, each about 45 ms of a serial wait through a bastion and 10 ms of
// the host's CPU.
//
// $1 is the directory, a fresh random name (mkdir fails on anything that
// already has it, a symbolic link included, as mktemp would); $2 is the
// mark, a random line the engine cannot print by chance; $3 is 1 when
// standard input carries the passfile; the engine's argv follows.
const engineScript = `d=$1 mark=$2 pw=$3
shift 3
mkdir -m 0700 -- "$d" || exit 1
trap 'rm -rf -- "$d"' EXIT
trap 'exit 143' HUP INT TERM
if [ "$pw" = 1 ]; then (umask 077 && cat >"$d/pgpass") || exit 1; fi
"$@"
r=$?
if [ -f "$d/report.json" ]; then printf '%s\n' "$mark"; cat -- "$d/report.json"; fi
exit $r`

// runOnce is runEngine without a shared work directory: one command
// (engineScript) makes the directory, runs program and brings the report
// back on standard output.
func (e *remoteEngine) runOnce(ctx context.Context, program string, args []string, conninfo string, withReport bool) (*engineRun, error) {
	dir := "/tmp/pgrunbook-engine." + randomHex(8)
	mark := "pgrunbook-report-" + randomHex(16)
	argv := append([]string{program}, args...)
	var stdin io.Reader
	if conninfo != "" {
		ci, password, err := splitPassword(conninfo)
		if err != nil {
			return nil, err
		}
		if password != "" {
			// Through standard input, so that the password is on no
			// command line.
			stdin = strings.NewReader(passfileLine(password))
			ci = withPassfile(ci, path.Join(dir, "pgpass"))
		}
		argv = append(argv, "--source-server="+ci)
	}
	report := path.Join(dir, "report.json")
	if withReport {
		argv = append(argv, "--progress-json", "--report="+report)
	}
	pw := "0"
	if stdin != nil {
		pw = "1"
	}
	cmd := transport.Command{Argv: append([]string{"sh", "-c", engineScript, "pgrunbook", dir, mark, pw}, argv...), Stdin: stdin}
	out := &engineRun{Argv: argv}
	res, err := e.runWrapped(ctx, argv, cmd, mark)
	body, found := cutReport(&res, mark)
	out.Result = res
	if err != nil {
		// Cancelled or cut off, the script may not have reached its
		// EXIT trap (the watchdog's SIGKILL follows its SIGTERM after a
		// second): remove the directory, passfile and all, as a command of
		// its own, as far as the connection still allows.
		_ = (&workDir{e: e, Path: dir}).remove()
		return out, fmt.Errorf("run %s: %w", path.Base(program), err)
	}
	if withReport {
		// The engine writes its report even when it fails, as far as it got.
		var rerr error
		switch {
		case !found:
			rerr = fmt.Errorf("read engine report %s: the engine wrote none", report)
		default:
			if jerr := json.Unmarshal([]byte(body), &out.Report); jerr != nil {
				out.Report, rerr = nil, fmt.Errorf("parse engine report %s: %w", report, jerr)
			}
		}
		if res.ExitCode == 0 && rerr != nil {
			return out, rerr
		}
	}
	if res.ExitCode != 0 {
		return out, engineFailure(strings.TrimSpace(path.Base(program)+" "+subcommand(args)), res)
	}
	return out, nil
}

// cutReport takes the report that engineScript printed after mark out of
// res's standard output and returns it; found is false when there was no
// mark (the engine wrote no report).
func cutReport(res *transport.Result, mark string) (report string, found bool) {
	i := strings.Index(res.Stdout, mark+"\n")
	if i < 0 {
		return "", false
	}
	report = res.Stdout[i+len(mark)+1:]
	res.Stdout = res.Stdout[:i]
	return report, true
}
