package rewindbench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// verify proves a rewound copy is a working standby of the new primary
// with the new primary's data: it puts the old primary's own
// configuration back (the rewind copied the source's), starts the copy
// where the old primary lived (same port and socket; the old primary is
// stopped), waits for it to catch up and compares the pgbench tables.
func (p *pair) verify(ctx context.Context, target string) (err error) {
	node := *p.oldPrimary
	node.Dir = filepath.Dir(target)
	node.DataDir = target
	node.LogFile = filepath.Join(node.Dir, "postgres.log")
	conf := filepath.Join(p.oldPrimary.DataDir, "postgresql.conf")
	if out, err := exec.CommandContext(ctx, "cp", "-p", conf, node.ConfPath()).CombinedOutput(); err != nil {
		return fmt.Errorf("restore postgresql.conf of rewound %s: %w\n%s", target, err, out)
	}
	if err := node.FollowNew(ctx, p.newPrimary); err != nil {
		return err
	}
	if err := node.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if serr := node.Stop(context.Background(), pgcluster.StopFast); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := p.newPrimary.WaitForCatchup(ctx, &node); err != nil {
		return err
	}
	want, err := tableSums(ctx, p.newPrimary)
	if err != nil {
		return err
	}
	got, err := tableSums(ctx, &node)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("verify rewound %s: pgbench tables sum to %q, the new primary's to %q", target, got, want)
	}
	if got == p.oldSums {
		return fmt.Errorf("verify rewound %s: pgbench tables still sum to the old primary's %q", target, got)
	}
	return nil
}
