package wal

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// BenchmarkScanBlocks scans the shared cluster's real WAL the way a rewind
// does, from the first record of segment 1 to the end of the WAL, visiting
// every block reference; b.SetBytes makes the result a WAL throughput.
func BenchmarkScanBlocks(b *testing.B) {
	needCluster(b)
	ctx := context.Background()
	src := NewDir(cluster.walDir, cluster.control.WalSegSize, nil)
	defer src.Close()
	r, err := NewReader(ConfigFor(cluster.control, src, timeline.Single(1)))
	if err != nil {
		b.Fatal(err)
	}
	from := lsn.LSN(cluster.control.WalSegSize)
	first, err := r.ReadRecord(ctx, from)
	if err != nil {
		b.Fatal(err)
	}
	end := first.EndLSN
	for {
		rec, err := r.Next(ctx)
		if err != nil {
			if !isEndOfWAL(err) {
				b.Fatal(err)
			}
			break
		}
		end = rec.EndLSN
	}
	b.SetBytes(int64(end - first.LSN))
	b.ReportAllocs()
	blocks := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		blocks = 0
		err := ScanBlocks(ctx, r, first.LSN, end, ScanFuncs{
			Block:  func(*Record, BlockRef) error { blocks++; return nil },
			Commit: func(Commit) error { return nil },
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// The process's CPU time is steadier than the wall time on a machine
	// shared with other work.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if blocks == 0 {
		b.Fatal("the scan found no block references")
	}
}

// cpuTime is the user and system time the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
