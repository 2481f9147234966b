package rewindbench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
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
// pg_rewind and with pgrunbook (--jobs 1 and 4) and compares wall time and
// bytes fetched; see the package comment. Run it with -benchtime 1x: each
// iteration is a full rewind of a 1 GB cluster.
func BenchmarkRewind(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("rewind benchmark needs root: the servers and both rewinders run as the OS user postgres")
	}
	modes, err := syncModes(os.Getenv("PGRUNBOOK_BENCH_SYNC"))
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

	tbl := &table{}
	verified := false
	for _, sync := range modes {
		results := map[string]run{}
		for _, c := range contenders {
			b.Run(fmt.Sprintf("sync=%t/%s", sync, c.name), func(b *testing.B) {
				r := benchContender(b, ctx, p, c, sync)
				results[c.name] = r
				base, ok := results["pg_rewind"]
				if c.jobs > 0 && ok {
					b.ReportMetric(float64(r.wall)/float64(base.wall), "ratio")
					b.ReportMetric(float64(r.cpu)/float64(base.cpu), "cpu_ratio")
					b.ReportMetric(float64(r.fetched)/float64(base.fetched), "bytes_ratio")
				}
				if c.jobs == 4 && !verified {
					if err := p.verify(ctx, r.target); err != nil {
						b.Fatal(err)
					}
					verified = true
				}
			})
		}
		tbl.add(sync, results)
	}
	tbl.print()
}

// benchContender rewinds b.N fresh copies with c and returns the mean
// wall and CPU time, the bytes fetched by the last run and its target.
func benchContender(b *testing.B, ctx context.Context, p *pair, c contender, sync bool) run {
	var total, cpu time.Duration
	var last run
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dir, err := p.prepare(ctx, c, sync)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := p.rewind(ctx, c, dir, sync)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		total += r.wall
		cpu += r.cpu
		last = r
	}
	last.wall = total / time.Duration(b.N)
	last.cpu = cpu / time.Duration(b.N)
	b.ReportMetric(mb(last.fetched), "MB_fetched")
	b.ReportMetric(last.cpu.Seconds(), "cpu_s")
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

// table collects the results for the summary printed at the end.
type table struct {
	rows []string
}

func (t *table) add(sync bool, results map[string]run) {
	base, hasBase := results["pg_rewind"]
	for _, c := range contenders {
		r, ok := results[c.name]
		if !ok {
			continue
		}
		ratio, cpuRatio, bytesRatio := "-", "-", "-"
		if hasBase && c.jobs > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.wall)/float64(base.wall))
			cpuRatio = fmt.Sprintf("%.2f", float64(r.cpu)/float64(base.cpu))
			bytesRatio = fmt.Sprintf("%.3f", float64(r.fetched)/float64(base.fetched))
		}
		syncFlag := "--no-sync"
		if sync {
			syncFlag = "(sync)"
		}
		t.rows = append(t.rows, fmt.Sprintf("%s\t%s\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s", c.name, syncFlag,
			r.wall.Seconds(), r.cpu.Seconds(), mb(r.fetched), ratio, cpuRatio, bytesRatio))
	}
}

func (t *table) print() {
	if len(t.rows) == 0 {
		return
	}
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "contender\tflags\twall s\tcpu s\tMB fetched\ttime ratio\tcpu ratio\tbytes ratio\t")
	for _, r := range t.rows {
		fmt.Fprintln(w, r+"\t")
	}
	w.Flush()
	fmt.Print(sb.String())
}
