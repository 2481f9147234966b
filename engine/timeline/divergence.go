package timeline

import (
	"errors"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ErrNoCommonAncestor is returned when the two histories share not even
// their first timeline, so the clusters cannot be related by a rewind.
var ErrNoCommonAncestor = errors.New("could not find common ancestor of the source and target cluster's timelines")

// FindDivergence finds where the source and target histories part. Entries
// are common while both their TLI and their Begin agree; comparing Begin
// too catches two clusters that reused a timeline number after forking at
// different points. It returns the LSN at which the last common timeline
// ended on the side that left it first (0 when neither left it: both are
// still on it), and the index of that timeline in the target history.
func FindDivergence(source, target History) (lsn.LSN, int, error) {
	n := min(len(source), len(target))
	i := 0
	for i < n && source[i].TLI == target[i].TLI && source[i].Begin == target[i].Begin {
		i++
	}
	if i == 0 {
		return 0, 0, ErrNoCommonAncestor
	}
	i--
	return minEnd(source[i].End, target[i].End), i, nil
}

// minEnd returns the earlier of two history ends, where 0 means infinity.
func minEnd(a, b lsn.LSN) lsn.LSN {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
