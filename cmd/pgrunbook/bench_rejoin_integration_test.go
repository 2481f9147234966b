package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// fleetBenchWidth is the number of old primaries the fleet runs of
// BenchmarkRejoinFleet rejoin at once, and its -f.
const fleetBenchWidth = 4

// fleetBenchRows is the number of rows of the table bench on every
// primary: about 6 MB of heap (rows of 100 bytes, 75 to an 8 kB page) and
// 1 MB of index. Each side of the split brain rewrites half of it, so that
// a rewind copies megabytes of blocks the old primary changed and the
// rejoined node replays megabytes of the new primary's WAL.
const fleetBenchRows = 40000

// benchSeedSQL creates the table bench on a primary before the drill; the
// checkpoint after it is the last common one, as on a server that
// checkpoints regularly.
var benchSeedSQL = fmt.Sprintf(`
CREATE TABLE bench (id int PRIMARY KEY, val text NOT NULL);
INSERT INTO bench SELECT i, md5(i::text) || md5((i + 1)::text) FROM generate_series(1, %d) i;
CHECKPOINT;
`, fleetBenchRows)

// The split brain's writes on bench, after the drill: the new primary
// rewrites the even rows, the old primary the odd ones and deletes a slice,
// so that neither side's pages match the other's.
const (
	benchNewPrimarySQL = `UPDATE bench SET val = 'new primary ' || val WHERE id % 2 = 0`
	benchOldPrimarySQL = `UPDATE bench SET val = 'old primary ' || val WHERE id % 2 = 1;
DELETE FROM bench WHERE id % 100 = 7`
)

var (
	// rewindFetched reads what the rewind step says it fetched.
	rewindFetched = regexp.MustCompile(`fetched (\d+) bytes`)
	// rewindStreamed reads what a streamed rewind says crossed the network.
	rewindStreamed = regexp.MustCompile(`transfer: stream, (\d+) bytes sent`)
)

// rejoinRun is one timed `pgrunbook run` of a rejoin playbook.
type rejoinRun struct {
	label string
	// transfer is how the rewinds fetched: "sql" or "stream".
	transfer string
	hosts    []string
	wall     time.Duration
	// steps holds, per step, the longest duration any host took.
	steps map[string]time.Duration
	// order is the steps in the order they first ended; ran holds those
	// that were not skipped on every host.
	order []string
	ran   map[string]bool
	// fetched is the file data each host's rewind fetched; sent is what
	// crossed the network for it (equal to fetched over SQL).
	fetched, sent map[string]int64
	// cpu is the CPU the whole machine used during the run (every lab
	// host's processes and the bastion's, and whatever else the machine
	// ran); labCPU is the lab's processes' alone (sshd, sudo, shells,
	// engines, postgres on every host and the bastion), bastion is this
	// process's (the executor).
	cpu, labCPU, bastion time.Duration
	// stepCPU is, per step, the machine's CPU from the previous step's end
	// to this one's (meaningful for a run of one host: with more, hosts
	// run their steps at their own pace and the intervals interleave).
	stepCPU map[string]time.Duration
	// heldBastion and heldHosts are how long the kernel held back the
	// bastion, and the run's old and new primaries together, because their
	// CPU budgets were used up (labs with testenv's Spec.HostCPU only): a
	// budget that throttles a host much is what the run waits for.
	heldBastion, heldHosts time.Duration
}

// BenchmarkRejoinFleet measures `pgrunbook run playbooks/rejoin.yml`
// through the lab's bastion, with -f 4, on one old primary and on four
// old primaries at once, and reports both wall times and their ratio
// (issue 6's target: t4/t1 ≤ 1.5).
//
// One lab holds a two-host cluster per rejoined old primary, so that every
// run starts from a fresh split brain of the same size: each primary gets
// a table of about 7 MB, playbooks/drill.yml splits all clusters, and each
// side then rewrites half of that table; none of that is timed. The single
// rejoin runs once before the fleet runs and once after, and t1 is their
// mean, so that a load that comes and goes on a shared machine weighs on
// both sides of the ratio.
//
// When the engine has `rewind-serve`, one more old primary and then four
// more are rejoined with the rewind step's source_host set to the new
// primary (the compressed stream relayed through the bastion instead of
// SQL), playbooks/rejoin.yml being otherwise unchanged; their ratio is
// reported as t4/t1-stream.
//
// All of that runs twice, on two labs one after the other. On the first,
// the lab's hosts share this machine's CPUs, as they always do. On the
// second, every host (the bastion too) has a CPU budget of its own
// (testenv's Spec.HostCPU, PGRUNBOOK_BENCH_HOST_CPU CPUs, 0.2 by default),
// as the separate machines of a real fleet have: on a machine of 2 CPUs a
// rejoin uses about as much CPU as wall time, so four at once on shared
// CPUs cannot take less than about twice one whatever the executor does,
// while with budgets the 9 hosts busy in the run of four (4 old primaries,
// 4 new primaries, the bastion) fit in the machine. Its metrics end in
// -hostcpu. PGRUNBOOK_BENCH_HOST_CPU=0 leaves the second lab out; so does
// a machine without a usable cgroup cpu controller, with a message.
//
// Every run must exit 0 with every host free of failures in the recap,
// each rewind must have fetched megabytes (and a streamed one, streamed),
// verify must pass, and each rejoined node must hold its new primary's
// rows. A table of the runs of each lab, step by step, goes to stdout. Run
// it as:
//
//	go test -run '^$' -bench RejoinFleet -benchtime 1x ./cmd/pgrunbook/
func BenchmarkRejoinFleet(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the lab needs root (network namespaces, sshd); skipping")
	}
	// Only the rejoins are timed: not the build, the lab or the drill.
	b.StopTimer()
	engine := fleetBenchEngine(b)
	stream := fleetEngineServes(engine)
	if !stream {
		fmt.Println("rejoin fleet: the engine has no rewind-serve: no stream variant")
	}
	hostCPU := fleetBenchHostCPU(b)
	overSQL, streamed := rejoinVariants(b)
	var shared, budget fleetTimes
	for range b.N {
		shared.add(rejoinFleetRound(b, engine, overSQL, streamed, stream, 0))
		if hostCPU > 0 {
			budget.add(rejoinFleetRound(b, engine, overSQL, streamed, stream, hostCPU))
		}
	}
	shared.report(b, "", stream)
	if hostCPU > 0 {
		budget.report(b, "-hostcpu", stream)
		fmt.Printf("rejoin fleet, t4/t1: %.2f over SQL with the hosts sharing %d CPUs, %.2f with %g CPU per host",
			shared.t4.Seconds()/shared.t1.Seconds(), runtime.NumCPU(), budget.t4.Seconds()/budget.t1.Seconds(), hostCPU)
		if stream {
			fmt.Printf("; streamed %.2f shared, %.2f with %g CPU per host",
				shared.t4s.Seconds()/shared.t1s.Seconds(), budget.t4s.Seconds()/budget.t1s.Seconds(), hostCPU)
		}
		fmt.Println()
	}
}

// fleetTimes adds up the wall times of the rounds of one kind of lab: t1
// and t4 over SQL, t1s and t4s streamed.
type fleetTimes struct{ t1, t4, t1s, t4s time.Duration }

func (f *fleetTimes) add(r fleetTimes) {
	f.t1 += r.t1
	f.t4 += r.t4
	f.t1s += r.t1s
	f.t4s += r.t4s
}

// report reports f's means over b.N rounds, and their ratios, as metrics
// whose names end in suffix.
func (f fleetTimes) report(b *testing.B, suffix string, stream bool) {
	n := float64(b.N)
	b.ReportMetric(f.t1.Seconds()/n, "s/rejoin-1"+suffix)
	b.ReportMetric(f.t4.Seconds()/n, "s/rejoin-4"+suffix)
	b.ReportMetric(f.t4.Seconds()/f.t1.Seconds(), "t4/t1"+suffix)
	if stream {
		b.ReportMetric(f.t1s.Seconds()/n, "s/rejoin-1-stream"+suffix)
		b.ReportMetric(f.t4s.Seconds()/n, "s/rejoin-4-stream"+suffix)
		b.ReportMetric(f.t4s.Seconds()/f.t1s.Seconds(), "t4/t1-stream"+suffix)
	}
}

// defaultHostCPU is the CPU budget of each host of the second lab: with
// the 9 hosts busy in a run of four at 0.2 CPU each, 1.8 of 2 CPUs.
const defaultHostCPU = 0.2

// fleetBenchHostCPU returns the CPU budget per host of the second lab, or
// 0 when there is none: PGRUNBOOK_BENCH_HOST_CPU (0 turns it off),
// defaultHostCPU without it, and 0 when this machine cannot give budgets,
// which it says.
func fleetBenchHostCPU(b *testing.B) float64 {
	b.Helper()
	cpu := defaultHostCPU
	if v, ok := os.LookupEnv("PGRUNBOOK_BENCH_HOST_CPU"); ok && strings.TrimSpace(v) != "" {
		var err error
		if cpu, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || cpu < 0 {
			b.Fatalf("PGRUNBOOK_BENCH_HOST_CPU=%q: want a number of CPUs per host, 0 for none", v)
		}
	}
	if cpu == 0 {
		fmt.Println("rejoin fleet: PGRUNBOOK_BENCH_HOST_CPU=0: no runs with a CPU budget per host")
		return 0
	}
	if err := testenv.CheckHostCPU(); err != nil {
		fmt.Printf("rejoin fleet: no runs with a CPU budget per host: %v\n", err)
		return 0
	}
	return cpu
}

// rejoinFleetRound brings up a lab (its hosts sharing the machine's CPUs
// when hostCPU is 0, each with a budget of hostCPU CPUs otherwise), splits
// its clusters, rejoins 1, 4 (streamed: 1, 4) and 1 old primaries, checks
// every rejoined node, prints the table of the runs and takes the lab
// down. It returns the wall times of the runs.
func rejoinFleetRound(b *testing.B, engine, overSQL, streamed string, stream bool, hostCPU float64) fleetTimes {
	b.Helper()
	n := 1 + fleetBenchWidth + 1
	if stream {
		n += 1 + fleetBenchWidth
	}
	setup := time.Now()
	lab := splitFleet(b, engine, n, hostCPU)
	fmt.Printf("rejoin fleet (%s): lab of %d clusters up, seeded, split by the drill in %.1f s (not timed)\n", cpuSetting(hostCPU), n, time.Since(setup).Seconds())
	free := lab.Clusters
	next := func(k int) []*testenv.Cluster {
		c := free[:k]
		free = free[k:]
		return c
	}

	// What the lab's processes use doing nothing (22 idle servers,
	// their archivers and checkpoints), for reading the CPU rows.
	inodes := labNamespaces(lab)
	rest := snapshotLab(inodes)
	time.Sleep(2 * time.Second)
	fmt.Printf("rejoin fleet (%s): the lab at rest uses %.3f s of CPU per second\n", cpuSetting(hostCPU), snapshotLab(inodes).since(rest).Seconds()/2)
	loadStart := loadAverage()
	b.StartTimer()
	runs := []rejoinRun{rejoinClusters(b, lab, engine, overSQL, "sql", "1 over SQL", next(1))}
	runs = append(runs, rejoinClusters(b, lab, engine, overSQL, "sql", "4 over SQL", next(fleetBenchWidth)))
	if stream {
		runs = append(runs, rejoinClusters(b, lab, engine, streamed, "stream", "1 streamed", next(1)))
		runs = append(runs, rejoinClusters(b, lab, engine, streamed, "stream", "4 streamed", next(fleetBenchWidth)))
	}
	runs = append(runs, rejoinClusters(b, lab, engine, overSQL, "sql", "1 over SQL", next(1)))
	b.StopTimer()
	fmt.Printf("machine: %d CPUs, load average (1 min) %s before the rejoins, %s after\n", runtime.NumCPU(), loadStart, loadAverage())

	// A budget holds only the processes in its cgroup: the rejoins' own
	// (sessions, sudo, engines, the servers they restarted) must all be.
	if strays, err := lab.CgroupStrays(); err != nil || len(strays) > 0 {
		b.Fatalf("processes outside their host's cgroup after the rejoins: %v %v", strays, err)
	}
	for _, c := range lab.Clusters {
		checkBenchRejoined(b, lab, c)
	}
	var t fleetTimes
	t.t1 = (runs[0].wall + runs[len(runs)-1].wall) / 2
	t.t4 = runs[1].wall
	base := map[string]time.Duration{"sql": t.t1}
	if stream {
		base["stream"] = runs[2].wall
		t.t1s, t.t4s = runs[2].wall, runs[3].wall
	}
	printRejoinTable(runs, base, hostCPU, len(lab.Hosts)+1)
	// The next lab comes up on its own; this one goes now rather than at
	// the end (Down is idempotent for the cleanup).
	if err := downFleetLab(lab); err != nil {
		b.Fatal(err)
	}
	return t
}

// cpuSetting names how the lab's hosts get CPU, for the output.
func cpuSetting(hostCPU float64) string {
	if hostCPU == 0 {
		return fmt.Sprintf("hosts sharing %d CPUs", runtime.NumCPU())
	}
	return fmt.Sprintf("%g CPU per host", hostCPU)
}

// splitFleet brings up a lab of n two-host clusters behind a bastion
// (each host with a budget of hostCPU CPUs, unless 0), seeds bench, runs
// the drill on all of them and writes the split brain's share of bench on
// both sides of each.
func splitFleet(b *testing.B, engine string, n int, hostCPU float64) *testenv.Lab {
	b.Helper()
	lab := testenv.ForTest(b, testenv.Spec{Hosts: 2 * n, Clusters: n, Bastion: true, Postgres: true, HostCPU: hostCPU})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	eachFleetCluster(b, lab, func(c *testenv.Cluster) error {
		p, s := lab.PGCluster(c.Primary), lab.PGCluster(c.NewPrimary())
		if err := p.Exec(ctx, "postgres", benchSeedSQL); err != nil {
			return fmt.Errorf("seed bench on %s: %w", c.Primary, err)
		}
		return p.WaitForCatchup(ctx, s)
	})
	var out bytes.Buffer
	opts := runOptions{inventory: lab.Inventory, forks: n, output: "json", extra: []string{"engine_binary=" + engine}}
	if err := runRun(ctx, opts, []string{drillPlaybook}, &out); err != nil {
		b.Fatalf("drill: %v\n%s", err, out.String())
	}
	// The drill stopped each old primary cleanly; it comes back for more
	// of the split brain, on timeline 1, and stops cleanly again.
	eachFleetCluster(b, lab, func(c *testenv.Cluster) error {
		oldp, newp := lab.PGCluster(c.Primary), lab.PGCluster(c.NewPrimary())
		if err := newp.Exec(ctx, "postgres", benchNewPrimarySQL); err != nil {
			return fmt.Errorf("write bench on %s: %w", c.NewPrimary(), err)
		}
		if err := oldp.Start(ctx); err != nil {
			return err
		}
		if err := oldp.Exec(ctx, "postgres", benchOldPrimarySQL); err != nil {
			return fmt.Errorf("write bench on %s: %w", c.Primary, err)
		}
		return oldp.Stop(ctx, pgcluster.StopFast)
	})
	return lab
}

// eachFleetCluster runs do on every cluster of lab at once and fails b with the
// first error.
func eachFleetCluster(b *testing.B, lab *testenv.Lab, do func(c *testenv.Cluster) error) {
	b.Helper()
	var g errgroup.Group
	for _, c := range lab.Clusters {
		g.Go(func() error { return do(c) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// rejoinClusters runs playbook, limited to the old primaries of clusters,
// as `pgrunbook run -f 4` would, and checks that it exits 0, that every
// host's recap shows no failure and that each rewind and verify did their
// work. The run's wall time is the whole of runRun: loading, SSH through
// the bastion, shipping the engine, every step.
func rejoinClusters(b *testing.B, lab *testenv.Lab, engine, playbook, transfer, label string, clusters []*testenv.Cluster) rejoinRun {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := rejoinRun{label: label, transfer: transfer, steps: map[string]time.Duration{}, ran: map[string]bool{},
		fetched: map[string]int64{}, sent: map[string]int64{}, stepCPU: map[string]time.Duration{}}
	for _, c := range clusters {
		run.hosts = append(run.hosts, c.Primary)
	}
	opts := runOptions{
		inventory: lab.Inventory, forks: fleetBenchWidth, output: "json", limit: strings.Join(run.hosts, ","),
		extra: []string{"engine_binary=" + engine},
	}
	var budgeted []string // the hosts whose CPU budgets the run uses
	if lab.HostCPU > 0 {
		for _, c := range clusters {
			budgeted = append(budgeted, c.Primary, c.NewPrimary())
		}
	}
	heldBastion, heldHosts := heldBack(b, lab, budgeted)
	inodes := labNamespaces(lab)
	labStart := snapshotLab(inodes)
	self := selfCPU()
	out := newCPULog()
	start := time.Now()
	err := runRun(ctx, opts, []string{playbook}, out)
	run.wall = time.Since(start)
	run.cpu, run.bastion = machineBusy()-out.start, selfCPU()-self
	// The sessions' sshd ends when its connection closes; its listener
	// reaps it a moment later, and only then counts its CPU.
	time.Sleep(50 * time.Millisecond)
	run.labCPU = snapshotLab(inodes).since(labStart)
	afterBastion, afterHosts := heldBack(b, lab, budgeted)
	run.heldBastion, run.heldHosts = afterBastion-heldBastion, afterHosts-heldHosts
	if code := exitCode(err); code != 0 {
		b.Fatalf("rejoin of %v: exit %d: %v\n%s", run.hosts, code, err, out.String())
	}

	var recap map[string]runbook.HostRecap
	verified := map[string]bool{}
	prev := out.start
	for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e runbook.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			b.Fatalf("rejoin of %v: not JSON: %v: %s", run.hosts, err, line)
		}
		switch e.Type {
		case runbook.EventStepEnd:
			if _, seen := run.steps[e.Step]; !seen {
				run.order = append(run.order, e.Step)
			}
			run.steps[e.Step] = max(run.steps[e.Step], time.Duration(e.DurationMS)*time.Millisecond)
			run.ran[e.Step] = run.ran[e.Step] || e.Status != runbook.StatusSkipped
			if i < len(out.busy) {
				run.stepCPU[e.Step] += out.busy[i] - prev
				prev = out.busy[i]
			}
			switch e.Step {
			case stepRewind:
				m := rewindFetched.FindStringSubmatch(e.Msg)
				if e.Status != runbook.StatusChanged || m == nil {
					b.Errorf("%s: rewind %s (%s), want changed with the bytes fetched", e.Host, e.Status, e.Msg)
					continue
				}
				run.fetched[e.Host], _ = strconv.ParseInt(m[1], 10, 64)
				run.sent[e.Host] = run.fetched[e.Host]
				m = rewindStreamed.FindStringSubmatch(e.Msg)
				if m != nil {
					run.sent[e.Host], _ = strconv.ParseInt(m[1], 10, 64)
				}
				if (m != nil) != (run.transfer == "stream") {
					b.Errorf("%s: rewind over %s: %s", e.Host, run.transfer, e.Msg)
				}
			case stepVerify:
				verified[e.Host] = e.Status == runbook.StatusOK && strings.HasPrefix(e.Msg, "all ") && strings.HasSuffix(e.Msg, " checks passed")
				if !verified[e.Host] {
					b.Errorf("%s: verify %s (%s)", e.Host, e.Status, e.Msg)
				}
			}
		case runbook.EventRecap:
			recap = e.Hosts
		}
	}
	if got := slices.Sorted(maps.Keys(recap)); !slices.Equal(got, slices.Sorted(slices.Values(run.hosts))) {
		b.Errorf("rejoin of %v: recap of %v", run.hosts, got)
	}
	for _, h := range run.hosts {
		if r := recap[h]; r.Failed != 0 || r.Unreachable != 0 || r.Changed < 4 {
			b.Errorf("%s: recap %+v, want ok with the rejoin's changes", h, r)
		}
		if !verified[h] {
			b.Errorf("%s: no passing verify", h)
		}
		// The split brain rewrote megabytes of bench on the old primary:
		// a rewind that fetched less did not see it.
		if run.fetched[h] < 1<<20 {
			b.Errorf("%s: the rewind fetched %d bytes, want megabytes", h, run.fetched[h])
		}
	}
	if b.Failed() {
		b.FailNow()
	}
	return run
}

// heldBack returns how long the kernel has held back lab's bastion, and
// hosts together, for want of CPU budget; zeros for a lab without budgets.
func heldBack(b *testing.B, lab *testenv.Lab, hosts []string) (bastion, all time.Duration) {
	b.Helper()
	if lab.HostCPU == 0 {
		return 0, 0
	}
	bastion, err := lab.CPUThrottled(lab.Bastion.Name)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range hosts {
		d, err := lab.CPUThrottled(h)
		if err != nil {
			b.Fatal(err)
		}
		all += d
	}
	return bastion, all
}

// fleetEngineServes says whether the engine binary has `rewind-serve`, which
// the rewind step's source_host runs on the new primary.
func fleetEngineServes(engine string) bool {
	return exec.Command(engine, "rewind-serve", "--help").Run() == nil
}

// The rewind step of rejoin.yml, and its parameters source_server and
// source_host.
const rewindStepHeader = "  - name: rewind to the new primary's timeline\n"

var (
	rewindSourceServer = regexp.MustCompile(`(?m)^      source_server: .*\n`)
	rewindSourceHost   = regexp.MustCompile(`(?m)^      source_host: .*\n`)
)

// rejoinVariants returns the rejoin playbook over SQL and the one that
// streams. The SQL one is playbooks/rejoin.yml itself while its rewind
// step has no source_host; the streaming one is a copy, in a directory of
// b's, whose rewind step has source_host set to the new primary (as the
// inventory names it) and is otherwise the same.
func rejoinVariants(b *testing.B) (sql, stream string) {
	b.Helper()
	src, err := os.ReadFile(rejoinPlaybook)
	if err != nil {
		b.Fatal(err)
	}
	text := string(src)
	at := strings.Index(text, rewindStepHeader)
	if at < 0 {
		b.Fatalf("%s: no step %q", rejoinPlaybook, strings.TrimSpace(rewindStepHeader))
	}
	end := len(text)
	if next := strings.Index(text[at+len(rewindStepHeader):], "\n  - "); next >= 0 {
		end = at + len(rewindStepHeader) + next + 1
	}
	step := text[at:end]
	if !rewindSourceServer.MatchString(step) {
		b.Fatalf("%s: the rewind step has no source_server", rejoinPlaybook)
	}
	dir := b.TempDir()
	write := func(name, step string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text[:at]+step+text[end:]), 0o644); err != nil {
			b.Fatal(err)
		}
		return path
	}
	sql = rejoinPlaybook
	if rewindSourceHost.MatchString(step) {
		// Should rejoin.yml stream by default one day, the SQL runs go on
		// measuring SQL.
		step = rewindSourceHost.ReplaceAllString(step, "")
		sql = write("rejoin-sql.yml", step)
	}
	withHost := rewindSourceServer.ReplaceAllStringFunc(step, func(line string) string {
		return line + "      source_host: \"{{ .new_primary }}\"\n"
	})
	return sql, write("rejoin-stream.yml", withHost)
}

// checkBenchRejoined checks, after verify already did, what a benchmark
// must not take on trust: the old primary is a standby again and, once it
// has replayed what the new primary has, every user table matches (the
// seed's row hash sums and counts, bench included).
func checkBenchRejoined(b *testing.B, lab *testenv.Lab, c *testenv.Cluster) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oldp, newp := lab.PGCluster(c.Primary), lab.PGCluster(c.NewPrimary())
	if v, err := oldp.QueryValue(ctx, "postgres", "SELECT pg_is_in_recovery()"); err != nil || v != "t" {
		b.Fatalf("%s: in recovery %q (%v) after the rejoin, want t", c.Primary, v, err)
	}
	lsn, err := newp.CurrentLSN(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := oldp.WaitReplay(ctx, lsn); err != nil {
		b.Fatal(err)
	}
	got, err := oldp.QueryValue(ctx, "postgres", tableSums)
	if err != nil {
		b.Fatal(err)
	}
	want, err := newp.QueryValue(ctx, "postgres", tableSums)
	if err != nil {
		b.Fatal(err)
	}
	if got != want || !strings.Contains(got, "bench:") {
		b.Fatalf("tables of %s: %s\nof %s: %s", c.Primary, got, c.NewPrimary(), want)
	}
}

// printRejoinTable prints the runs of one lab of hosts lab hosts (the
// bastion included) side by side: wall time and its ratio to t1 (base: the
// single rejoin of the same transfer), each step's longest duration on any
// host, and what the rewinds fetched and sent. Its title says how the
// hosts got CPU: sharing the machine's, or hostCPU each. It goes to
// stdout, as the other benchmarks' tables do: the testing package keeps
// only the first lines of a benchmark's log.
func printRejoinTable(runs []rejoinRun, base map[string]time.Duration, hostCPU float64, hosts int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	cpu := fmt.Sprintf("the %d hosts sharing the machine's %d CPUs", hosts, runtime.NumCPU())
	if hostCPU > 0 {
		cpu = fmt.Sprintf("each of the %d hosts, the bastion too, with its own budget of %g CPU (cgroup quota; the executor outside)", hosts, hostCPU)
	}
	fmt.Printf("rejoin of 1 vs %d old primaries, %s\n(pgrunbook run -f %d through the bastion; a step's time is its slowest host's;\n"+
		"t1 over SQL = %.2f s, the mean of the single runs before and after the others):\n",
		fleetBenchWidth, cpu, fleetBenchWidth, base["sql"].Seconds())
	line := func(name string, cell func(r rejoinRun) string) {
		fmt.Fprintf(w, "%s\t", name)
		for _, r := range runs {
			fmt.Fprintf(w, "%s\t", cell(r))
		}
		fmt.Fprintln(w)
	}
	line("old primaries rejoined", func(r rejoinRun) string { return r.label })
	line("CPU per host", func(rejoinRun) string {
		if hostCPU == 0 {
			return "shared"
		}
		return fmt.Sprintf("%g", hostCPU)
	})
	line("wall", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.wall.Seconds()) })
	line("wall / t1 of its transfer", func(r rejoinRun) string {
		return fmt.Sprintf("%.2f", r.wall.Seconds()/base[r.transfer].Seconds())
	})
	line("machine CPU (all processes)", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.cpu.Seconds()) })
	line("  ÷ CPUs: the wall's floor", func(r rejoinRun) string {
		return fmt.Sprintf("%.2f s", r.cpu.Seconds()/float64(runtime.NumCPU()))
	})
	line("  the lab's processes", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.labCPU.Seconds()) })
	line("  the bastion's pgrunbook", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.bastion.Seconds()) })
	if hostCPU > 0 {
		line("held back by its budget: bastion host", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.heldBastion.Seconds()) })
		line("  old + new primaries (sum)", func(r rejoinRun) string { return fmt.Sprintf("%.2f s", r.heldHosts.Seconds()) })
	}
	for _, step := range runs[0].order {
		line("  "+step, func(r rejoinRun) string {
			if !r.ran[step] {
				return "skipped"
			}
			return fmt.Sprintf("%.2f s", r.steps[step].Seconds())
		})
	}
	mb := func(m map[string]int64) string {
		var total int64
		for _, n := range m {
			total += n
		}
		return fmt.Sprintf("%.1f MB", float64(total)/(1<<20))
	}
	fmt.Fprintln(w, "machine CPU per step (runs of one host)\t")
	for _, step := range runs[0].order {
		line("  "+step, func(r rejoinRun) string {
			if len(r.hosts) != 1 {
				return "–"
			}
			return fmt.Sprintf("%.2f s", r.stepCPU[step].Seconds())
		})
	}
	line("rewinds fetched (total)", func(r rejoinRun) string { return mb(r.fetched) })
	line("rewinds sent (total)", func(r rejoinRun) string { return mb(r.sent) })
	w.Flush()
}

// fleetBenchEngine builds the pgrunbook binary the rejoin ships to the hosts
// (a test binary is no engine), into a directory of b's, as `make build`
// builds it (the Makefile's BUILDFLAGS): the size shipped is the users'.
func fleetBenchEngine(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "pgrunbook")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/pgrunbook/pgrunbook/cmd/pgrunbook"}
	if out, err := exec.Command(goTool, build...).CombinedOutput(); err != nil {
		b.Fatalf("build pgrunbook: %v\n%s", err, out)
	}
	return bin
}

// downFleetLab takes lab down within a minute.
func downFleetLab(lab *testenv.Lab) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return lab.Down(ctx)
}
