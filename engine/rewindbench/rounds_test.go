package rewindbench

import (
	"fmt"
	"strconv"
	"strings"
)

// maxRounds bounds PGRUNBOOK_BENCH_ROUNDS: a round over the 100 Mbit/s
// link takes well over a minute, and a typo such as 30 for 3 would hold
// the shared machine for an hour.
const maxRounds = 20

// parseRounds reads PGRUNBOOK_BENCH_ROUNDS: empty means each link's own
// number of rounds (0 is returned), a whole number from 1 to maxRounds
// sets every link's.
func parseRounds(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxRounds {
		return 0, fmt.Errorf("read PGRUNBOOK_BENCH_ROUNDS %q: want a whole number from 1 to %d", v, maxRounds)
	}
	return n, nil
}

// roundsOver is how many rounds to run over l: the knob's number when
// one was given (n > 0), else the link's own.
func roundsOver(l link, n int) int {
	if n > 0 {
		return n
	}
	return l.rounds
}

// roundCount says n rounds in words: "1 round", "3 rounds".
func roundCount(n int) string {
	if n == 1 {
		return "1 round"
	}
	return fmt.Sprintf("%d rounds", n)
}
