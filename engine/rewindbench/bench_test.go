package rewindbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMain removes the shared clusters after the benchmarks; plain test
// runs never build them.
func TestMain(m *testing.M) {
	code := m.Run()
	destroyPair()
	os.Exit(code)
}

// BenchmarkRewind rewinds fresh copies of one diverged target with
// pg_rewind and with pgrunbook (over SQL with --jobs 4, and with the
// compressed stream) on every link, and compares wall time and bytes with
// pg_rewind's on the same link; see the package comment. Run it with
// -benchtime 1x: each iteration is a full rewind.
func BenchmarkRewind(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("rewind benchmark needs root: the servers and the rewinders run as the OS user postgres")
	}
	modes, err := syncModes(os.Getenv("PGRUNBOOK_BENCH_SYNC"))
	if err != nil {
		b.Fatal(err)
	}
	ls, err := parseLinks(os.Getenv("PGRUNBOOK_BENCH_LINKS"))
	if err != nil {
		b.Fatal(err)
	}
	cs, err := parseContenders(os.Getenv("PGRUNBOOK_BENCH_CONTENDERS"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	setupStart := time.Now()
	p, err := setupPair(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("setup: %s; pgbench scale %d, database %.0f MB; old primary updated %d of %d accounts (%.0f%%) after the failover\n",
		time.Since(setupStart).Round(time.Second), p.scale, mb(p.dbBytes), p.updatedRows, p.totalRows,
		100*float64(p.updatedRows)/float64(p.totalRows))
	for _, l := range ls {
		fmt.Printf("link %s\n", l.describe())
	}

	tbl := &table{}
	// verified holds the contenders whose result was started as a
	// standby and compared; once each is enough.
	verified := map[string]bool{}
	for _, sync := range modes {
		for _, l := range ls {
			results := map[string]run{}
			for _, c := range cs {
				b.Run(fmt.Sprintf("link=%s/sync=%t/%s", l.name, sync, c.name), func(b *testing.B) {
					r := benchContender(b, ctx, p, l, c, sync)
					results[c.name] = r
					if base, ok := results["pg_rewind"]; c.jobs > 0 && ok {
						b.ReportMetric(float64(r.wall)/float64(base.wall), "ratio")
						b.ReportMetric(float64(r.cpu)/float64(base.cpu), "cpu_ratio")
						b.ReportMetric(float64(r.transferred)/float64(base.transferred), "bytes_ratio")
					}
					if c.jobs > 0 && !verified[c.name] {
						if err := p.verify(ctx, r.target); err != nil {
							b.Fatalf("%s over %s: %v", c.name, l.name, err)
						}
						verified[c.name] = true
					}
					// Nine rewound copies would need the disk of
					// nine clusters; keep them only when asked to.
					if os.Getenv("PGRUNBOOK_BENCH_KEEP") == "" {
						if err := os.RemoveAll(filepath.Dir(r.target)); err != nil {
							b.Fatalf("remove run of %s over %s: %v", c.name, l.name, err)
						}
					}
				})
			}
			tbl.add(l, sync, results)
		}
	}
	tbl.print()
	// Every contender should have rewound from the same source: one
	// that wrote a new WAL segment since the setup gave the later ones
	// more to fetch.
	moved, err := p.sourceMoved(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("source: its WAL moved %d kB while the contenders ran (a new 16 MB segment would give the later ones more to fetch)\n", moved/1024)
}

// benchContender rewinds b.N fresh copies with c over l and returns the
// mean wall and CPU time, the bytes of the last run and its target.
func benchContender(b *testing.B, ctx context.Context, p *pair, l link, c contender, sync bool) run {
	var total, cpu, serveCPU time.Duration
	var last run
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dir, err := p.prepare(ctx, l, c, sync)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := p.rewind(ctx, l, c, dir, sync)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		total += r.wall
		cpu += r.cpu
		serveCPU += r.serveCPU
		last = r
	}
	last.wall = total / time.Duration(b.N)
	last.cpu = cpu / time.Duration(b.N)
	last.serveCPU = serveCPU / time.Duration(b.N)
	b.ReportMetric(mb(last.fetched), "MB_fetched")
	b.ReportMetric(mb(last.transferred), "MB_transferred")
	if last.wire >= 0 {
		b.ReportMetric(mb(last.wire), "MB_wire")
	}
	b.ReportMetric(last.cpu.Seconds(), "cpu_s")
	if last.serveCPU >= 0 {
		b.ReportMetric(last.serveCPU.Seconds(), "serve_cpu_s")
	}
	return last
}

// syncModes reads PGRUNBOOK_BENCH_SYNC: which of --no-sync (false) and
// the full sync (true) to measure.
func syncModes(v string) ([]bool, error) {
	switch v {
	case "", "off":
		return []bool{false}, nil
	case "on":
		return []bool{true}, nil
	case "both":
		return []bool{false, true}, nil
	}
	return nil, fmt.Errorf("read PGRUNBOOK_BENCH_SYNC %q: want off, on or both", v)
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
