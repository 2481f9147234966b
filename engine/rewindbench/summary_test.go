package rewindbench

import (
	"fmt"
	"slices"
	"strings"
)

// baseline is the contender the others are compared with.
const baseline = "pg_rewind"

// stat is one measure of a contender over its rounds. n is how many
// rounds had it (0: none did, e.g. the wire bytes of a direct link, or a
// ratio without pg_rewind), med the median, min and max the spread.
type stat struct {
	n             int
	med, min, max float64
}

// statOf summarizes xs; an empty xs gives the zero stat.
func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	return stat{n: len(xs), med: median(xs), min: slices.Min(xs), max: slices.Max(xs)}
}

// median is the middle of xs once sorted, or the mean of the two middle
// values when there is an even number of them; xs is left as it was.
// The median, not the mean, because on a shared machine one round now
// and then runs much slower than the others, and the mean would follow
// it.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// summary is one contender's rounds over one link in one sync mode, as
// the benchmark reports them. Each measure is the median of that measure
// alone over the rounds, so two medians may come from different rounds.
type summary struct {
	rounds int
	// wall, cpu and serveCPU are in seconds; serveCPU only for the
	// stream contender, whose rewind-serve is measured.
	wall, cpu, serveCPU stat
	// fetched, transferred and wire are in bytes; wire only through a
	// proxied link, which counts them.
	fetched, transferred, wire stat
	// ratio, cpuRatio and bytesRatio compare the contender with
	// pg_rewind round by round (its wall time over pg_rewind's in the
	// same round, and so on): the rounds interleave the contenders, so a
	// round's ratio compares runs that shared the machine's conditions,
	// which a ratio of medians would not. Their n is 0 for pg_rewind
	// itself, and when it did not run.
	ratio, cpuRatio, bytesRatio stat
}

// summarize turns every contender's runs, round by round (runs[name][i]
// is its rewind of round i), into its summary.
func summarize(runs map[string][]run) map[string]summary {
	base := runs[baseline]
	out := make(map[string]summary, len(runs))
	for name, rs := range runs {
		s := summary{
			rounds:      len(rs),
			wall:        measure(rs, func(r run) (float64, bool) { return r.wall.Seconds(), true }),
			cpu:         measure(rs, func(r run) (float64, bool) { return r.cpu.Seconds(), true }),
			serveCPU:    measure(rs, func(r run) (float64, bool) { return r.serveCPU.Seconds(), r.serveCPU >= 0 }),
			fetched:     measure(rs, func(r run) (float64, bool) { return float64(r.fetched), true }),
			transferred: measure(rs, func(r run) (float64, bool) { return float64(r.transferred), true }),
			wire:        measure(rs, func(r run) (float64, bool) { return float64(r.wire), r.wire >= 0 }),
		}
		if name != baseline {
			s.ratio = perRound(rs, base, func(r run) float64 { return r.wall.Seconds() })
			s.cpuRatio = perRound(rs, base, func(r run) float64 { return r.cpu.Seconds() })
			s.bytesRatio = perRound(rs, base, func(r run) float64 { return float64(r.transferred) })
		}
		out[name] = s
	}
	return out
}

// measure is the stat of f over the runs that have it.
func measure(rs []run, f func(run) (float64, bool)) stat {
	var xs []float64
	for _, r := range rs {
		if x, ok := f(r); ok {
			xs = append(xs, x)
		}
	}
	return statOf(xs)
}

// perRound is the stat of f(rs[i]) / f(base[i]) over the rounds both
// ran, leaving out a round whose baseline measured 0 (pg_rewind with
// nothing to copy has no bytes to compare with).
func perRound(rs, base []run, f func(run) float64) stat {
	var xs []float64
	for i := 0; i < len(rs) && i < len(base); i++ {
		if b := f(base[i]); b > 0 {
			xs = append(xs, f(rs[i])/b)
		}
	}
	return statOf(xs)
}

// roundLine is the line printed after each round, so that a reader sees
// the noise before the medians hide it: every contender's wall time in
// this round, and its ratio to pg_rewind's in the same round.
func roundLine(l link, sync bool, round, rounds int, cs []contender, runs map[string][]run) string {
	var parts []string
	base, hasBase := runs[baseline]
	for _, c := range cs {
		rs := runs[c.name]
		if len(rs) <= round {
			continue
		}
		part := fmt.Sprintf("%s %.2f s", c.name, rs[round].wall.Seconds())
		if c.name != baseline && hasBase && len(base) > round && base[round].wall > 0 {
			part += fmt.Sprintf(" (%.2fx)", float64(rs[round].wall)/float64(base[round].wall))
		}
		parts = append(parts, part)
	}
	return fmt.Sprintf("link=%s/sync=%t round %d/%d: %s", l.name, sync, round+1, rounds, strings.Join(parts, ", "))
}
