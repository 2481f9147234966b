package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Partition cuts host off from the other database hosts, both ways, while
// the executor (and the bastion) can still log in to it: the split-brain
// drill partitions the old primary, promotes a standby and still stops the
// old primary over SSH afterwards. The hosts share one bridge, so the cut
// is made with "unreachable" routes inside the namespaces: packets between
// the two sides fail at once with "no route to host", which also breaks
// established replication connections as soon as either side sends.
func (l *Lab) Partition(ctx context.Context, host string) error {
	return l.partition(ctx, host, "replace")
}

// Heal undoes Partition of host; healing a host that is not partitioned is
// fine.
func (l *Lab) Heal(ctx context.Context, host string) error {
	return l.partition(ctx, host, "del")
}

func (l *Lab) partition(ctx context.Context, host, op string) error {
	h, err := l.host(host)
	if err != nil {
		return err
	}
	if h == l.Bastion {
		return fmt.Errorf("partition %s: the bastion cannot be partitioned, take its sshd down instead", host)
	}
	var errs []error
	for _, o := range l.Hosts {
		if o == h {
			continue
		}
		for _, pair := range [][2]*Host{{h, o}, {o, h}} {
			from, to := pair[0], pair[1]
			err := ip(ctx, "-n", from.Namespace, "route", op, "unreachable", to.Address+"/32")
			if err != nil && !(op == "del" && strings.Contains(err.Error(), "No such process")) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("partition %s (%s): %w", host, op, err)
	}
	return nil
}
