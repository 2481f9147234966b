package rewindbench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// contender is one rewind program with its flags.
type contender struct {
	// name is the sub-benchmark's name.
	name string
	// jobs is pgrunbook's --jobs; 0 means pg_rewind.
	jobs int
	// stream has pgrunbook fetch the file data from `pgrunbook
	// rewind-serve` on the source (--source-stream), the rest over SQL.
	stream bool
}

// contenders are run in this order on every link, pg_rewind first so that
// the others can report their ratio to it.
var contenders = []contender{
	{name: "pg_rewind"},
	{name: "pgrunbook_sql_jobs4", jobs: 4},
	{name: "pgrunbook_stream", jobs: 4, stream: true},
}

// run is what one rewind took.
type run struct {
	wall time.Duration
	// cpu is the rewinder's own user and system time (the server's work
	// for it is not included, for any contender). It is steadier than
	// wall time on a machine shared with other work.
	cpu time.Duration
	// serveCPU is rewind-serve's user and system time for the stream
	// contender, the compression's cost on the source; -1 for the
	// others, whose server side (a PostgreSQL backend) is not measured.
	serveCPU time.Duration
	// fetched is the raw bytes of file data the rewinder fetched.
	fetched int64
	// transferred is what the file data took on the network: the
	// compressed stream, else the same as fetched.
	transferred int64
	// wire is every byte that crossed a proxied link, both ways, SQL and
	// stream, protocol included; -1 on a direct link, which has no proxy
	// to count them.
	wire int64
	// target is the rewound data directory, kept until the next run of
	// the same contender.
	target string
}

// endpoint is where a rewind reaches its source: the SQL connection
// string and, for the stream contender, the stream address and token.
type endpoint struct {
	conninfo  string
	stream    string
	tokenFile string
}

// prepare makes a fresh copy of the pristine target for c on l; its time
// is not part of the measurement.
func (p *pair) prepare(ctx context.Context, l link, c contender, sync bool) (dir string, err error) {
	dir = filepath.Join(p.root, "runs", fmt.Sprintf("%s-%s-sync%t", l.name, c.name, sync))
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
	// The copy leaves hundreds of MB of dirty pages; written back during
	// the next rewind they would slow whichever contender comes first.
	syscall.Sync()
	return dir, nil
}

// connect lays the way from the rewinder to the source over l: direct, or
// through the proxies of w; for the stream contender it also needs the
// running stream server srv.
func (p *pair) connect(l link, w *wire, srv *streamServer) (endpoint, error) {
	sqlAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.newPrimary.Port))
	var streamAddr string
	if srv != nil {
		streamAddr = srv.addr
	}
	if !l.direct {
		var err error
		if sqlAddr, err = w.proxy("sql", sqlAddr); err != nil {
			return endpoint{}, err
		}
		if srv != nil {
			if streamAddr, err = w.proxy("stream", streamAddr); err != nil {
				return endpoint{}, err
			}
		}
	}
	host, port, err := net.SplitHostPort(sqlAddr)
	if err != nil {
		return endpoint{}, fmt.Errorf("split SQL address %s: %w", sqlAddr, err)
	}
	e := endpoint{conninfo: fmt.Sprintf("host=%s port=%s user=%s dbname=postgres", host, port, rewindRole), stream: streamAddr}
	if srv != nil {
		e.tokenFile = srv.tokenFile
	}
	return e, nil
}

// args are the command line of c rewinding dir's data directory from e.
func (p *pair) args(c contender, e endpoint, dir string, sync bool) (program string, args []string) {
	args = []string{
		"--target-pgdata", filepath.Join(dir, "data"),
		"--source-server", e.conninfo,
		"-P",
	}
	if !sync {
		args = append(args, "--no-sync")
	}
	if c.jobs == 0 {
		return p.oldPrimary.Bin("pg_rewind"), args
	}
	args = append(args, "--jobs", strconv.Itoa(c.jobs), "--report", filepath.Join(dir, "report.json"))
	if c.stream {
		args = append(args, "--source-stream", e.stream, "--source-stream-token-file", e.tokenFile)
	}
	return p.pgrunbook, append([]string{"rewind"}, args...)
}

// rewind runs c on a copy made by prepare, over l, and measures it. Only
// the rewinder's own run is timed: not the proxies' start, nor the stream
// server's (a few milliseconds).
func (p *pair) rewind(ctx context.Context, l link, c contender, dir string, sync bool) (r run, err error) {
	var srv *streamServer
	if c.stream {
		if srv, err = p.startStreamServer(ctx, dir); err != nil {
			return run{}, err
		}
		defer func() {
			if serr := srv.stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	w := newWire(l)
	defer w.close()
	e, err := p.connect(l, w, srv)
	if err != nil {
		return run{}, err
	}
	program, args := p.args(c, e, dir, sync)
	cmd, err := pgcluster.Command(ctx, program, args...)
	if err != nil {
		return run{}, err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	r = run{wall: time.Since(start), wire: -1, serveCPU: -1, target: filepath.Join(dir, "data")}
	if !l.direct {
		r.wire = w.bytes()
	}
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("rewind with %s over %s: %w\n%s", c.name, l.name, err, tailBytes(out.Bytes(), 4000))
	}
	if srv != nil {
		if err := srv.stop(); err != nil {
			return r, err
		}
		r.serveCPU = srv.cpu()
	}
	if c.jobs == 0 {
		r.fetched, err = pgRewindFetched(out.String())
		r.transferred = r.fetched
		return r, err
	}
	rep, err := readReport(filepath.Join(dir, "report.json"))
	if err != nil {
		return r, err
	}
	// A stream contender that fell back to SQL would measure the wrong
	// thing; the engine says which way the data came.
	want := "sql"
	if c.stream {
		want = "stream"
	}
	if rep.transfer != "" && rep.transfer != want || c.stream && rep.transfer != want {
		return r, fmt.Errorf("rewind with %s over %s: the report says the data came by %q, want %q", c.name, l.name, rep.transfer, want)
	}
	r.fetched, r.transferred = rep.fetched, rep.transferred
	return r, nil
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// parseContenders reads PGRUNBOOK_BENCH_CONTENDERS: a comma-separated
// subset of the contenders, always run in their own order (pg_rewind
// first); empty means all. Without pg_rewind there are no ratios.
func parseContenders(v string) ([]contender, error) {
	if strings.TrimSpace(v) == "" {
		return contenders, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(contenders, func(c contender) bool { return c.name == name }) {
			names := make([]string, len(contenders))
			for i, c := range contenders {
				names[i] = c.name
			}
			return nil, fmt.Errorf("read PGRUNBOOK_BENCH_CONTENDERS %q: unknown contender %q, want some of %s", v, name, strings.Join(names, ", "))
		}
		want[name] = true
	}
	var out []contender
	for _, c := range contenders {
		if want[c.name] {
			out = append(out, c)
		}
	}
	return out, nil
}
