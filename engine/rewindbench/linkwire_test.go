package rewindbench

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLinks(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: []string{"loopback", "100mbit", "20ms"}},
		{in: "20ms", want: []string{"20ms"}},
		{in: "100mbit, loopback", want: []string{"100mbit", "loopback"}},
		{in: "loopback,10mbit", wantErr: `unknown link "10mbit"`},
		{in: "20ms,20ms", wantErr: `link "20ms" given twice`},
	}
	for _, tt := range tests {
		got, err := parseLinks(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseLinks(%q): err = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("parseLinks(%q): %v", tt.in, err)
		}
		var names []string
		for _, l := range got {
			names = append(names, l.name)
		}
		if strings.Join(names, ",") != strings.Join(tt.want, ",") {
			t.Errorf("parseLinks(%q) = %v, want %v", tt.in, names, tt.want)
		}
	}
}

func TestWireReserve(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type booking struct {
		n    int
		at   time.Time
		wait time.Duration
	}
	tests := []struct {
		name     string
		rate     int64
		bookings []booking
	}{
		{name: "unlimited never waits", rate: 0, bookings: []booking{{1 << 20, t0, 0}, {1 << 20, t0, 0}}},
		{name: "a fresh link's first chunk waits for its transmission, less the credit", rate: 1000_000, bookings: []booking{
			{10_000, t0, 10*time.Millisecond - wireCredit},
		}},
		{name: "chunks queue behind one another, whoever sends them", rate: 1000_000, bookings: []booking{
			{10_000, t0, 10*time.Millisecond - wireCredit},
			{10_000, t0, 20*time.Millisecond - wireCredit},
			{5_000, ms(5), 25*time.Millisecond - wireCredit - 5*time.Millisecond},
		}},
		{name: "a wake-up late by less than the credit keeps its place in the schedule", rate: 1000_000, bookings: []booking{
			{10_000, t0, 10*time.Millisecond - wireCredit},
			{10_000, ms(9), 9 * time.Millisecond},
		}},
		{name: "an idle link banks only the credit", rate: 1000_000, bookings: []booking{
			{10_000, t0, 10*time.Millisecond - wireCredit},
			{10_000, ms(500), 10*time.Millisecond - wireCredit},
			{1_000, ms(500), 11*time.Millisecond - wireCredit},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &wireDirection{rate: tt.rate}
			var total int64
			for i, b := range tt.bookings {
				if got := d.reserve(b.n, b.at); got != b.wait {
					t.Errorf("booking %d: wait %v, want %v", i, got, b.wait)
				}
				total += int64(b.n)
			}
			if got := d.bytes.Load(); got != total {
				t.Errorf("counted %d bytes, want %d", got, total)
			}
		})
	}
}

// TestWireSharesRate sends through two proxies of one 100mbit wire at once:
// together they take at least as long as the link needs for all of it, and
// every byte is counted.
func TestWireSharesRate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var received atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				received.Add(n)
			}()
		}
	}()
	l, _ := linkNamed("100mbit")
	w := newWire(l)
	defer w.close()
	const each = 1 << 20
	var addrs []string
	for _, name := range []string{"sql", "stream"} {
		addr, err := w.proxy(name, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, addr)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(addrs))
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := c.Write(make([]byte, each)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The senders are done once the kernel has their bytes; the sink
	// has them once the link let them through.
	deadline := time.Now().Add(5 * time.Second)
	for received.Load() < 2*each && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	if got := received.Load(); got != 2*each {
		t.Fatalf("the sink received %d bytes, want %d", got, 2*each)
	}
	if got := w.up.bytes.Load(); got != 2*each {
		t.Errorf("the wire counted %d bytes upstream, want %d", got, 2*each)
	}
	least := time.Duration(2*each*int64(time.Second)/w.up.rate) - wireCredit
	if elapsed < least {
		t.Errorf("2 MiB through one 100mbit wire took %v, want at least %v", elapsed, least)
	}
	if w.down.bytes.Load() != 0 {
		t.Errorf("the wire counted %d bytes downstream, want 0", w.down.bytes.Load())
	}
}

func TestParseContenders(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "", want: "pg_rewind,pgrunbook_sql_jobs4,pgrunbook_stream"},
		{in: "pgrunbook_stream, pg_rewind", want: "pg_rewind,pgrunbook_stream"},
		{in: "pgrunbook_jobs1", wantErr: `unknown contender "pgrunbook_jobs1"`},
	}
	for _, tt := range tests {
		got, err := parseContenders(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseContenders(%q): err = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("parseContenders(%q): %v", tt.in, err)
		}
		var names []string
		for _, c := range got {
			names = append(names, c.name)
		}
		if strings.Join(names, ",") != tt.want {
			t.Errorf("parseContenders(%q) = %v, want %s", tt.in, names, tt.want)
		}
	}
}

func TestTableRows(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	base := run{wall: 40 * time.Second, cpu: 2 * time.Second, serveCPU: -1, fetched: 400 << 20, transferred: 400 << 20, wire: 401 << 20}
	stream := run{wall: 8 * time.Second, cpu: time.Second, serveCPU: 3 * time.Second, fetched: 300 << 20, transferred: 20 << 20, wire: 21 << 20}
	loop := run{wall: 5 * time.Second, cpu: time.Second, serveCPU: -1, fetched: 400 << 20, transferred: 400 << 20, wire: -1}
	// with gives loop with another wall and CPU time, for noisy rounds.
	with := func(wall, cpu float64) run { r := loop; r.wall, r.cpu = sec(wall), sec(cpu); return r }
	tests := []struct {
		name string
		link string
		sync bool
		runs map[string][]run
		want [][]string
	}{
		{
			name: "one round, stream against pg_rewind",
			link: "100mbit",
			runs: map[string][]run{"pg_rewind": {base}, "pgrunbook_stream": {stream}},
			want: [][]string{
				{"100mbit", "pg_rewind", "--no-sync", "1", "40.00", "40.00-40.00", "2.00", "-", "400.0", "400.0", "401.0", "-", "-", "-", "-"},
				{"100mbit", "pgrunbook_stream", "--no-sync", "1", "8.00", "8.00-8.00", "1.00", "3.00", "300.0", "20.0", "21.0", "0.20", "0.20-0.20", "0.50", "0.050"},
			},
		},
		{
			// pg_rewind takes 2, 3, 4 s; pgrunbook 1.8, 3.3, 2.0 s:
			// per-round ratios 0.90, 1.10, 0.50, whose median is 0.90,
			// where the medians' ratio (2.0/3.0) would claim 0.67.
			name: "three noisy rounds: medians, spreads and per-round ratios",
			link: "loopback",
			sync: true,
			runs: map[string][]run{
				"pg_rewind":           {with(2, 1), with(3, 1.2), with(4, 1.1)},
				"pgrunbook_sql_jobs4": {with(1.8, 1.1), with(3.3, 1.2), with(2, 1.43)},
			},
			want: [][]string{
				{"loopback", "pg_rewind", "(sync)", "3", "3.00", "2.00-4.00", "1.10", "-", "400.0", "400.0", "-", "-", "-", "-", "-"},
				{"loopback", "pgrunbook_sql_jobs4", "(sync)", "3", "2.00", "1.80-3.30", "1.20", "-", "400.0", "400.0", "-", "0.90", "0.50-1.10", "1.10", "1.000"},
			},
		},
		{
			name: "without pg_rewind there are no ratios",
			link: "20ms",
			runs: map[string][]run{"pgrunbook_sql_jobs4": {with(3, 1), with(3.5, 1)}},
			want: [][]string{
				{"20ms", "pgrunbook_sql_jobs4", "--no-sync", "2", "3.25", "3.00-3.50", "1.00", "-", "400.0", "400.0", "-", "-", "-", "-", "-"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := linkNamed(tt.link)
			if !ok {
				t.Fatalf("no link %q", tt.link)
			}
			tbl := &table{}
			tbl.add(l, tt.sync, summarize(tt.runs))
			if len(tbl.rows) != len(tt.want) {
				t.Fatalf("%d rows, want %d: %q", len(tbl.rows), len(tt.want), tbl.rows)
			}
			for i := range tt.want {
				if strings.Join(tbl.rows[i], "|") != strings.Join(tt.want[i], "|") {
					t.Errorf("row %d:\n got %q\nwant %q", i, tbl.rows[i], tt.want[i])
				}
				if len(tbl.rows[i]) != len(tableHeader) {
					t.Errorf("row %d has %d cells, the header %d", i, len(tbl.rows[i]), len(tableHeader))
				}
			}
		})
	}
}

// TestTableWrite checks the printed table: the header, the rows under it
// in their columns, and the note saying what the medians are.
func TestTableWrite(t *testing.T) {
	var out strings.Builder
	(&table{}).write(&out)
	if out.Len() != 0 {
		t.Errorf("an empty table printed %q", out.String())
	}
	lo, _ := linkNamed("loopback")
	tbl := &table{}
	tbl.add(lo, false, summarize(map[string][]run{"pg_rewind": {{wall: 2 * time.Second, cpu: time.Second, serveCPU: -1, wire: -1}}}))
	tbl.write(&out)
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 3 {
		t.Fatalf("printed %q", out.String())
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "link contender flags rounds wall s wall min-max cpu s serve cpu s MB fetched MB transferred MB wire time ratio ratio min-max cpu ratio bytes ratio" {
		t.Errorf("header %q", lines[0])
	}
	if len(lines[1]) != len(lines[0]) || !strings.HasSuffix(lines[1], "-") || !strings.Contains(lines[1], "2.00-2.00") {
		t.Errorf("row %q under header %q", lines[1], lines[0])
	}
	for _, want := range []string{"median over its rounds", "median of the per-round ratios", "fastest and slowest"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table's note lacks %q:\n%s", want, out.String())
		}
	}
}
