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

// engineScript runs the engine in a private work directory: it makes
// the directory (unless the run shares one its caller made), writes the
// passfile from standard input when there is a password, runs the engine,
// prints the report after a mark line and removes a directory it made,
// even when the command is cancelled (the watchdog's SIGTERM ends the
// script through its EXIT trap). One command instead of four (mktemp, the
// run, cat of the report, rm) saves three SSH sessions and three sudo
// runs per engine run, each about 45 ms of a serial wait through a bastion
// and 10 ms of the host's CPU.
//
// $1 is the directory; $2 is 1 when the script makes it, a fresh random
// name (mkdir fails on anything that already has it, a symbolic link
// included, as mktemp would), and removes it; $3 is the mark, a random
// line the engine cannot print by chance; $4 is 1 when standard input
// carries the passfile; the engine's argv follows.
const engineScript = `d=$1 own=$2 mark=$3 pw=$4
shift 4
if [ "$own" = 1 ]; then
mkdir -m 0700 -- "$d" || exit 1
trap 'rm -rf -- "$d"' EXIT
fi
trap 'exit 143' HUP INT TERM
if [ "$pw" = 1 ]; then (umask 077 && cat >"$d/pgpass") || exit 1; fi
"$@"
r=$?
if [ -f "$d/report.json" ]; then printf '%s\n' "$mark"; cat -- "$d/report.json"; fi
exit $r`

// runScript runs program with engineScript in the work directory dir,
// made and removed by the command itself when own, and brings the report
// back on standard output.
func (e *remoteEngine) runScript(ctx context.Context, dir string, own bool, program string, args []string, conninfo string, withReport bool) (*engineRun, error) {
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
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	cmd := transport.Command{Argv: append([]string{"sh", "-c", engineScript, "pgrunbook", dir, flag(own), mark, flag(stdin != nil)}, argv...), Stdin: stdin}
	out := &engineRun{Argv: argv}
	res, err := e.runWrapped(ctx, argv, cmd, mark)
	body, found := cutReport(&res, mark)
	out.Result = res
	if err != nil {
		// Cancelled or cut off, the script may not have reached its
		// EXIT trap (the watchdog's SIGKILL follows its SIGTERM after a
		// second): remove the directory it made, passfile and all, as a
		// command of its own, as far as the connection still allows.
		if own {
			_ = (&workDir{e: e, Path: dir}).remove()
		}
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
