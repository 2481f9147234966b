package rewindbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// contender is one rewind program with its flags.
type contender struct {
	// name is the sub-benchmark's name.
	name string
	// jobs is pgrunbook's --jobs; 0 means pg_rewind.
	jobs int
}

// contenders are run in this order, pg_rewind first so that the others
// can report their ratio to it.
var contenders = []contender{
	{name: "pg_rewind"},
	{name: "pgrunbook_jobs1", jobs: 1},
	{name: "pgrunbook_jobs4", jobs: 4},
}

// run is what one rewind took.
type run struct {
	wall time.Duration
	// cpu is the rewinder's own user and system time (the server's work
	// for it is not included, for either contender). It is steadier than
	// wall time on a machine shared with other work.
	cpu     time.Duration
	fetched int64
	// target is the rewound data directory, kept until the next run of
	// the same contender.
	target string
}

// prepare makes a fresh copy of the pristine target for c; its time is
// not part of the measurement.
func (p *pair) prepare(ctx context.Context, c contender, sync bool) (dir string, err error) {
	dir = filepath.Join(p.root, "runs", fmt.Sprintf("%s-sync%t", c.name, sync))
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("remove old run %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create run %s: %w", dir, err)
	}
	if err := pgcluster.HandOver(dir); err != nil {
		return "", err
	}
	// cp -a keeps owner, modes and times, exactly what a real old primary
	// would have.
	if out, err := exec.CommandContext(ctx, "cp", "-a", p.oldPrimary.DataDir, filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy target for %s: %w\n%s", c.name, err, out)
	}
	return dir, nil
}

// args are the command line of c rewinding dir's data directory.
func (p *pair) args(c contender, dir string, sync bool) (program string, args []string) {
	args = []string{
		"--target-pgdata", filepath.Join(dir, "data"),
		"--source-server", p.newPrimary.ConnString(rewindRole),
		"-P",
	}
	if !sync {
		args = append(args, "--no-sync")
	}
	if c.jobs == 0 {
		return p.oldPrimary.Bin("pg_rewind"), args
	}
	args = append(args, "--jobs", strconv.Itoa(c.jobs), "--report", filepath.Join(dir, "report.json"))
	return p.pgrunbook, append([]string{"rewind"}, args...)
}

// rewind runs c on a copy made by prepare and measures it.
func (p *pair) rewind(ctx context.Context, c contender, dir string, sync bool) (run, error) {
	program, args := p.args(c, dir, sync)
	cmd, err := pgcluster.Command(ctx, program, args...)
	if err != nil {
		return run{}, err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	r := run{wall: time.Since(start), target: filepath.Join(dir, "data")}
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("rewind with %s: %w\n%s", c.name, err, tailBytes(out.Bytes(), 4000))
	}
	if c.jobs == 0 {
		r.fetched, err = pgRewindFetched(out.String())
	} else {
		r.fetched, err = reportFetched(filepath.Join(dir, "report.json"))
	}
	return r, err
}

// copiedLine is pg_rewind's progress line, rewritten in place with \r;
// the first number is what was fetched so far, in kB.
var copiedLine = regexp.MustCompile(`(\d+)/(\d+) kB \(\d+%\) copied`)

// pgRewindFetched reads what pg_rewind -P fetched from its output: the
// last progress line, which pg_rewind prints once more when done.
func pgRewindFetched(output string) (int64, error) {
	m := copiedLine.FindAllStringSubmatch(output, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("read bytes fetched from pg_rewind output: no %q line in %q", "kB (100%) copied", tailBytes([]byte(output), 500))
	}
	kb, err := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read bytes fetched from pg_rewind output: %w", err)
	}
	return kb * 1024, nil
}

// reportFetched reads bytes_fetched from a pgrunbook rewind report.
func reportFetched(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read rewind report: %w", err)
	}
	var rep struct {
		BytesFetched *int64 `json:"bytes_fetched"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return 0, fmt.Errorf("read rewind report %s: %w", path, err)
	}
	if rep.BytesFetched == nil {
		return 0, fmt.Errorf("read rewind report %s: no bytes_fetched", path)
	}
	return *rep.BytesFetched, nil
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
