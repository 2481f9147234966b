package runbook

import (
	"fmt"
	"strings"
)

// diffContext is how many unchanged lines surround each change in a hunk.
const diffContext = 3

// maxDiffCells bounds the work of the line diff (lines before times lines
// after, once the common head and tail are cut off); beyond it the changed
// middle is shown as removed and added wholesale rather than spending
// seconds on a config file nobody reads line by line.
const maxDiffCells = 4_000_000

// diffOp is one line of an edit script: ' ' kept, '-' removed, '+' added.
type diffOp struct {
	kind byte
	text string
	// a and b are how many lines of before and after precede this line.
	a, b int
}

// unifiedDiff returns the hunks of a unified diff from before to after,
// without the ---/+++ header; nil when they are equal.
func unifiedDiff(before, after string) []string {
	if before == after {
		return nil
	}
	ops := lineDiff(splitLines(before), splitLines(after))
	var out []string
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		end := i
		// Extend the hunk while the next change is close enough that the
		// contexts would touch.
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*diffContext {
				break
			}
		}
		end = min(end+diffContext, len(ops)-1)
		out = append(out, hunk(ops[start:end+1])...)
		i = end + 1
	}
	return out
}

// hunk renders one hunk with its @@ header.
func hunk(ops []diffOp) []string {
	aLen, bLen := 0, 0
	lines := make([]string, 0, len(ops)+1)
	lines = append(lines, "")
	for _, op := range ops {
		if op.kind != '+' {
			aLen++
		}
		if op.kind != '-' {
			bLen++
		}
		lines = append(lines, string(op.kind)+op.text)
	}
	aStart, bStart := ops[0].a, ops[0].b
	if aLen > 0 {
		aStart++
	}
	if bLen > 0 {
		bStart++
	}
	lines[0] = fmt.Sprintf("@@ -%d,%d +%d,%d @@", aStart, aLen, bStart, bLen)
	return lines
}

// lineDiff computes an edit script from a to b: the common head and tail,
// and a longest-common-subsequence diff of the middle.
func lineDiff(a, b []string) []diffOp {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ops := make([]diffOp, 0, len(a)+len(b))
	ai, bi := 0, 0
	keep := func(s string) { ops = append(ops, diffOp{' ', s, ai, bi}); ai++; bi++ }
	del := func(s string) { ops = append(ops, diffOp{'-', s, ai, bi}); ai++ }
	add := func(s string) { ops = append(ops, diffOp{'+', s, ai, bi}); bi++ }
	for _, s := range a[:head] {
		keep(s)
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	if len(ma)*len(mb) > maxDiffCells {
		for _, s := range ma {
			del(s)
		}
		for _, s := range mb {
			add(s)
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				keep(ma[i])
				i++
				j++
			case i < len(ma) && (j == len(mb) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				del(ma[i])
				i++
			default:
				add(mb[j])
				j++
			}
		}
	}
	for _, s := range a[len(a)-tail:] {
		keep(s)
	}
	return ops
}

// splitLines splits text into lines without their newlines; a final
// newline does not make an empty last line.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
