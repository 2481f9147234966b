package rewindbench

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want stat
	}{
		{name: "none", in: nil, want: stat{}},
		{name: "one", in: []float64{2.65}, want: stat{n: 1, med: 2.65, min: 2.65, max: 2.65}},
		{name: "odd, unsorted: the middle one", in: []float64{3.3, 2.65, 2.9}, want: stat{n: 3, med: 2.9, min: 2.65, max: 3.3}},
		{name: "one slow round does not move it", in: []float64{2.7, 9.5, 2.6}, want: stat{n: 3, med: 2.7, min: 2.6, max: 9.5}},
		{name: "even: the mean of the middle two", in: []float64{4, 1, 3, 2}, want: stat{n: 4, med: 2.5, min: 1, max: 4}},
		{name: "ties", in: []float64{1, 1, 5}, want: stat{n: 3, med: 1, min: 1, max: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := statOf(tt.in); got != tt.want {
				t.Errorf("statOf(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("statOf reordered its input: %v, was %v", tt.in, in)
				}
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	sqlRun := func(wall, cpu float64, transferred int64) run {
		return run{wall: sec(wall), cpu: sec(cpu), serveCPU: -1, fetched: transferred, transferred: transferred, wire: -1}
	}
	streamRun := func(wall, serveCPU float64, wire int64) run {
		return run{wall: sec(wall), cpu: sec(1), serveCPU: sec(serveCPU), fetched: 300, transferred: 50, wire: wire}
	}
	tests := []struct {
		name string
		runs map[string][]run
		want map[string]summary
	}{
		{
			// Ratios round by round: 1.8/2 = 0.9, 3.3/3 = 1.1, 2/4 =
			// 0.5, median 0.9; the medians' ratio would be 2/3.
			name: "ratios are per round, then their median",
			runs: map[string][]run{
				"pg_rewind":           {sqlRun(2, 1, 400), sqlRun(3, 1, 400), sqlRun(4, 1, 400)},
				"pgrunbook_sql_jobs4": {sqlRun(1.8, 2, 300), sqlRun(3.3, 1, 300), sqlRun(2, 0.5, 300)},
			},
			want: map[string]summary{
				"pg_rewind": {rounds: 3, wall: stat{3, 3, 2, 4}, cpu: stat{3, 1, 1, 1},
					fetched: stat{3, 400, 400, 400}, transferred: stat{3, 400, 400, 400}},
				"pgrunbook_sql_jobs4": {rounds: 3, wall: stat{3, 2, 1.8, 3.3}, cpu: stat{3, 1, 0.5, 2},
					fetched: stat{3, 300, 300, 300}, transferred: stat{3, 300, 300, 300},
					ratio: stat{3, 0.9, 0.5, 1.1}, cpuRatio: stat{3, 1, 0.5, 2}, bytesRatio: stat{3, 0.75, 0.75, 0.75}},
			},
		},
		{
			name: "serve CPU and wire bytes only where measured; a baseline of zero bytes has no bytes ratio",
			runs: map[string][]run{
				"pg_rewind":        {sqlRun(40, 2, 0)},
				"pgrunbook_stream": {streamRun(8, 1.5, 60)},
			},
			want: map[string]summary{
				"pg_rewind": {rounds: 1, wall: stat{1, 40, 40, 40}, cpu: stat{1, 2, 2, 2},
					fetched: stat{1, 0, 0, 0}, transferred: stat{1, 0, 0, 0}},
				"pgrunbook_stream": {rounds: 1, wall: stat{1, 8, 8, 8}, cpu: stat{1, 1, 1, 1}, serveCPU: stat{1, 1.5, 1.5, 1.5},
					fetched: stat{1, 300, 300, 300}, transferred: stat{1, 50, 50, 50}, wire: stat{1, 60, 60, 60},
					ratio: stat{1, 0.2, 0.2, 0.2}, cpuRatio: stat{1, 0.5, 0.5, 0.5}},
			},
		},
		{
			name: "without pg_rewind, no ratios",
			runs: map[string][]run{"pgrunbook_stream": {streamRun(3, 1, 70), streamRun(5, 2, 90)}},
			want: map[string]summary{
				"pgrunbook_stream": {rounds: 2, wall: stat{2, 4, 3, 5}, cpu: stat{2, 1, 1, 1}, serveCPU: stat{2, 1.5, 1, 2},
					fetched: stat{2, 300, 300, 300}, transferred: stat{2, 50, 50, 50}, wire: stat{2, 80, 70, 90}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(tt.runs)
			if len(got) != len(tt.want) {
				t.Fatalf("summarize gave %d contenders, want %d: %+v", len(got), len(tt.want), got)
			}
			for name, want := range tt.want {
				if g := rounded(got[name]); g != want {
					t.Errorf("%s:\n got %+v\nwant %+v", name, g, want)
				}
			}
		})
	}
}

// rounded rounds every value of s to 1e-9, so that a test can compare
// 1.8/2 with 0.9.
func rounded(s summary) summary {
	r := func(st *stat) {
		for _, v := range []*float64{&st.med, &st.min, &st.max} {
			*v = float64(int64(*v*1e9+0.5)) / 1e9
		}
	}
	for _, st := range []*stat{&s.wall, &s.cpu, &s.serveCPU, &s.fetched, &s.transferred, &s.wire, &s.ratio, &s.cpuRatio, &s.bytesRatio} {
		r(st)
	}
	return s
}

func TestRoundLine(t *testing.T) {
	lo, _ := linkNamed("loopback")
	runs := map[string][]run{
		"pg_rewind":           {{wall: 2650 * time.Millisecond}, {wall: 3300 * time.Millisecond}},
		"pgrunbook_sql_jobs4": {{wall: 2460 * time.Millisecond}, {wall: 2640 * time.Millisecond}},
		"pgrunbook_stream":    {{wall: 2330 * time.Millisecond}},
	}
	tests := []struct {
		name  string
		round int
		cs    []contender
		runs  map[string][]run
		want  string
	}{
		{name: "first round", round: 0, cs: contenders, runs: runs,
			want: "link=loopback/sync=false round 1/3: pg_rewind 2.65 s, pgrunbook_sql_jobs4 2.46 s (0.93x), pgrunbook_stream 2.33 s (0.88x)"},
		{name: "a contender that has not run this round is left out", round: 1, cs: contenders, runs: runs,
			want: "link=loopback/sync=false round 2/3: pg_rewind 3.30 s, pgrunbook_sql_jobs4 2.64 s (0.80x)"},
		{name: "without pg_rewind, no ratios", round: 0, cs: contenders[1:2], runs: map[string][]run{"pgrunbook_sql_jobs4": runs["pgrunbook_sql_jobs4"]},
			want: "link=loopback/sync=false round 1/3: pgrunbook_sql_jobs4 2.46 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := roundLine(lo, false, tt.round, 3, tt.cs, tt.runs); got != tt.want {
				t.Errorf("roundLine:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
