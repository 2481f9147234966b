package rewindbench

import (
	"fmt"
	"strings"
)

// link is one network path between a rewinder and its source: either
// loopback, direct, or a pair of in-process toxiproxy proxies (one for
// SQL, one for the stream) that apply the link's toxics.
type link struct {
	// name is how PGRUNBOOK_BENCH_LINKS and the results call it.
	name string
	// direct links connect to the source without a proxy.
	direct bool
	// rateKBps is the link's bandwidth in each direction, in KB/s
	// (toxiproxy's unit), shared by every connection and both proxies of
	// a rewind; 0 is unlimited.
	rateKBps int64
	// latencyMS is the delay added in each direction, in milliseconds;
	// the round trip pays it twice.
	latencyMS int64
	// rounds is how many times every contender rewinds over the link
	// unless PGRUNBOOK_BENCH_ROUNDS says otherwise: wall times on a
	// shared machine move by tens of percent from one run to the next, so
	// one run is not a measurement where the ratio is near its target.
	rounds int
}

// links are every link the benchmark knows, in the order it runs them by
// default.
var links = []link{
	{name: "loopback", direct: true, rounds: 3},
	// 100 Mbit/s = 12 500 KB/s; the latency is loopback's plus the
	// proxy's, a fraction of a millisecond, as on a LAN. One round: a
	// pg_rewind run takes some 40 s here, and the stream's ratio is half
	// its target, far beyond what the noise moves.
	{name: "100mbit", rateKBps: 12500, rounds: 1},
	// 10 ms each way, 20 ms round trip; the bandwidth is what loopback
	// and the proxy manage.
	{name: "20ms", latencyMS: 10, rounds: 3},
}

// describe says what the link is, for the setup line.
func (l link) describe() string {
	switch {
	case l.direct:
		return l.name + " (direct)"
	case l.rateKBps > 0 && l.latencyMS > 0:
		return fmt.Sprintf("%s (toxiproxy: %d KB/s each way, shared; +%d ms each way)", l.name, l.rateKBps, l.latencyMS)
	case l.rateKBps > 0:
		return fmt.Sprintf("%s (toxiproxy: %d KB/s each way, shared by all connections)", l.name, l.rateKBps)
	default:
		return fmt.Sprintf("%s (toxiproxy: +%d ms each way)", l.name, l.latencyMS)
	}
}

// parseLinks reads PGRUNBOOK_BENCH_LINKS: a comma-separated list of link
// names, run in the order given; empty means every link.
func parseLinks(v string) ([]link, error) {
	if strings.TrimSpace(v) == "" {
		return links, nil
	}
	var out []link
	seen := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		l, ok := linkNamed(name)
		if !ok {
			return nil, fmt.Errorf("read PGRUNBOOK_BENCH_LINKS %q: unknown link %q, want some of %s", v, name, linkNames())
		}
		if seen[name] {
			return nil, fmt.Errorf("read PGRUNBOOK_BENCH_LINKS %q: link %q given twice", v, name)
		}
		seen[name] = true
		out = append(out, l)
	}
	return out, nil
}

func linkNamed(name string) (link, bool) {
	for _, l := range links {
		if l.name == name {
			return l, true
		}
	}
	return link{}, false
}

func linkNames() string {
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.name
	}
	return strings.Join(names, ", ")
}
