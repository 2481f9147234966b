package rewindtest

import (
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestSameTimeline is upstream's 005_same_timeline: with no promotion both
// nodes are on the same timeline, so there is nothing to rewind; the tool
// must say so, succeed, and leave a node that starts.
func TestSameTimeline(t *testing.T) {
	t.Parallel()
	s := NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.CreateStandby(pgcluster.Options{})
	res := s.RunRewind(Local)
	if !strings.Contains(res.Output(), "no rewind required") {
		t.Fatalf("rewind on the same timeline does not report %q\n%s", "no rewind required", res)
	}
	s.CheckQuery("SELECT pg_is_in_recovery()", "t")
}
