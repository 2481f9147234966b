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
// compressed stream) on every link, in rounds that interleave the
// contenders, and compares each round's wall time and bytes with
// pg_rewind's in the same round; see the package comment. Every rewind is
// a full one whatever -benchtime says (run it with -benchtime 1x); the
// number of rounds is PGRUNBOOK_BENCH_ROUNDS's.
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
	roundsKnob, err := parseRounds(os.Getenv("PGRUNBOOK_BENCH_ROUNDS"))
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
		fmt.Printf("link %s, %s\n", l.describe(), roundCount(roundsOver(l, roundsKnob)))
	}

	tbl := &table{}
	// verified holds the contenders whose result was started as a
	// standby and compared; once each is enough.
	verified := map[string]bool{}
	for _, sync := range modes {
		for _, l := range ls {
			var sums map[string]summary
			b.Run(fmt.Sprintf("link=%s/sync=%t", l.name, sync), func(b *testing.B) {
				n := roundsOver(l, roundsKnob)
				runs := map[string][]run{}
				for i := 0; i < n; i++ {
					for _, c := range cs {
						runs[c.name] = append(runs[c.name], rewindOnce(b, ctx, p, l, c, sync, verified))
					}
					fmt.Println(roundLine(l, sync, i, n, cs, runs))
				}
				sums = summarize(runs)
				for _, c := range cs {
					b.Run(c.name, func(b *testing.B) { reportSummary(b, sums[c.name]) })
				}
			})
			if sums != nil {
				tbl.add(l, sync, sums)
			}
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

// rewindOnce rewinds a fresh copy with c over l and measures it; the
// copy is not timed. The first copy each pgrunbook contender rewinds is
// verified (verified records which were), and each is removed once
// measured unless PGRUNBOOK_BENCH_KEEP is set.
func rewindOnce(b *testing.B, ctx context.Context, p *pair, l link, c contender, sync bool, verified map[string]bool) run {
	dir, err := p.prepare(ctx, l, c, sync)
	if err != nil {
		b.Fatal(err)
	}
	r, err := p.rewind(ctx, l, c, dir, sync)
	if err != nil {
		b.Fatal(err)
	}
	if c.jobs > 0 && !verified[c.name] {
		if err := p.verify(ctx, r.target); err != nil {
			b.Fatalf("%s over %s: %v", c.name, l.name, err)
		}
		verified[c.name] = true
	}
	// Nine rewound copies would need the disk of nine clusters; keep
	// them (the last round's of each) only when asked to.
	if os.Getenv("PGRUNBOOK_BENCH_KEEP") == "" {
		if err := os.RemoveAll(filepath.Dir(r.target)); err != nil {
			b.Fatalf("remove run of %s over %s: %v", c.name, l.name, err)
		}
	}
	return r
}

// reportSummary reports a contender's summary as its benchmark's
// metrics: ns/op is the median wall time over the rounds (not the time
// of this sub-benchmark, which only reports), the ratios the medians of
// the per-round ratios, and rounds how many rewinds they come from.
func reportSummary(b *testing.B, s summary) {
	b.ReportMetric(s.wall.med*1e9, "ns/op")
	b.ReportMetric(float64(s.rounds), "rounds")
	b.ReportMetric(s.wall.min, "wall_min_s")
	b.ReportMetric(s.wall.max, "wall_max_s")
	b.ReportMetric(s.cpu.med, "cpu_s")
	if s.serveCPU.n > 0 {
		b.ReportMetric(s.serveCPU.med, "serve_cpu_s")
	}
	b.ReportMetric(s.fetched.med/(1<<20), "MB_fetched")
	b.ReportMetric(s.transferred.med/(1<<20), "MB_transferred")
	if s.wire.n > 0 {
		b.ReportMetric(s.wire.med/(1<<20), "MB_wire")
	}
	if s.ratio.n > 0 {
		b.ReportMetric(s.ratio.med, "ratio")
		b.ReportMetric(s.ratio.min, "ratio_min")
		b.ReportMetric(s.ratio.max, "ratio_max")
	}
	if s.cpuRatio.n > 0 {
		b.ReportMetric(s.cpuRatio.med, "cpu_ratio")
	}
	if s.bytesRatio.n > 0 {
		b.ReportMetric(s.bytesRatio.med, "bytes_ratio")
	}
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
