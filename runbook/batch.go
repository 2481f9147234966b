package runbook

import (
	"fmt"
	"strconv"
	"strings"
)

// Batches splits hosts into the serial batches of a run, one after another.
//
// serial is "" or "0" (all hosts in one batch), "N" (N hosts per batch), "P%"
// (P percent of all hosts per batch, rounded down like Ansible but at least
// one), or a comma-separated list of those ("1,25%,100%"): the first batch
// has the first size, the next the second, and the last size repeats, so a
// canary host can go first.
func Batches(hosts []*Host, serial string) ([][]*Host, error) {
	sizes, err := batchSizes(serial, len(hosts))
	if err != nil {
		return nil, err
	}
	var out [][]*Host
	for i := 0; len(hosts) > 0; i++ {
		n := sizes[min(i, len(sizes)-1)]
		n = min(n, len(hosts))
		out = append(out, hosts[:n:n])
		hosts = hosts[n:]
	}
	return out, nil
}

// batchSizes parses serial into batch sizes for total hosts.
func batchSizes(serial string, total int) ([]int, error) {
	serial = strings.TrimSpace(serial)
	if serial == "" {
		return []int{max(total, 1)}, nil
	}
	var sizes []int
	for _, part := range strings.Split(serial, ",") {
		n, err := batchSize(strings.TrimSpace(part), total)
		if err != nil {
			return nil, fmt.Errorf("serial %q: %w", serial, err)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// batchSize parses one "N" or "P%" entry.
func batchSize(s string, total int) (int, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || pct < 0 || pct > 100 {
			return 0, fmt.Errorf("%q is not a percentage between 0%% and 100%%", s)
		}
		// Ansible truncates the share and then runs at least one host, so
		// that "10%" of 5 hosts means batches of one, not an empty batch.
		return max(int(pct*float64(total)/100), 1), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is neither a host count nor a percentage", s)
	}
	if n == 0 {
		return max(total, 1), nil
	}
	return n, nil
}

// failBudgetExceeded reports, after a batch, whether the hosts that failed
// so far exceed max_fail_percentage of all hosts of the run. The share is
// taken over the whole run, not over the last batch: the failure budget is
// spent across batches, so a rollout whose every batch stays under the
// threshold still stops once it has broken more hosts than the budget
// allows.
func failBudgetExceeded(maxPct *float64, failed, total int) (string, bool) {
	if maxPct == nil || total == 0 {
		return "", false
	}
	pct := float64(failed) * 100 / float64(total)
	if pct <= *maxPct {
		return "", false
	}
	return fmt.Sprintf("max_fail_percentage %g%% exceeded: %d of %d hosts failed (%.0f%%)",
		*maxPct, failed, total, pct), true
}
