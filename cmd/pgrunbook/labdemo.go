package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// demoLabName is the lab `pgrunbook lab demo` brings up without --name.
const demoLabName = "demo"

// labDemoOptions are the flags of `lab demo`.
type labDemoOptions struct {
	labOptions
	// Keep leaves the lab up after the demo, for a look around.
	Keep bool
	// Playbooks is the directory holding drill.yml and rejoin.yml.
	Playbooks string
	// EngineBinary is the pgrunbook binary the rewind steps ship; empty
	// means this executable (tests set it: a test binary is no engine).
	EngineBinary string
}

func (o *labDemoOptions) register(cmd *cobra.Command) {
	o.labOptions.register(cmd)
	cmd.Flags().Lookup("name").DefValue = demoLabName
	o.Name = demoLabName
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the lab up after the demo (take it down with: pgrunbook lab down --name NAME)")
	cmd.Flags().StringVar(&o.Playbooks, "playbooks", "playbooks", "the `DIR` holding drill.yml and rejoin.yml")
	cmd.Flags().StringVar(&o.EngineBinary, "engine-binary", "", "the pgrunbook `FILE` the rewind steps ship to the hosts (default this executable)")
}

func newLabDemoCmd() *cobra.Command {
	var opts labDemoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Bring a lab up, make a split brain with drill.yml, rejoin with rejoin.yml, report, take it down",
		Long: `The whole job in one command, on a lab of three PostgreSQL 15 hosts behind a
bastion (pg1 primary, pg2 and pg3 standbys): playbooks/drill.yml partitions
pg1, promotes pg2 and writes on both sides; playbooks/rejoin.yml rewinds pg1
and makes it a standby of pg2, through the bastion. Both runs stream their
steps; a report follows (divergence, WAL staged, what the rewind copied,
time per step, the verify checks). Then the lab goes down, unless --keep.
Run it from the repository root (or point --playbooks at its playbooks).` + "\n" + labExitCodes,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabDemo(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.register(cmd)
	return cmd
}

// runLabDemo brings the demo lab up, runs the drill and the rejoin,
// prints the report and takes the lab down unless opts.Keep. Any failure
// is an error with exit code 1.
func runLabDemo(ctx context.Context, opts labDemoOptions, w io.Writer) (err error) {
	drill, rejoin := filepath.Join(opts.Playbooks, "drill.yml"), filepath.Join(opts.Playbooks, "rejoin.yml")
	for _, p := range []string{drill, rejoin} {
		if _, err := os.Stat(p); err != nil {
			return withCode(2, fmt.Errorf("lab demo: playbook %s: %w (run from the repository root, or set --playbooks)", p, err))
		}
	}
	fmt.Fprintf(w, "lab demo: bringing up lab %s: 3 PostgreSQL 15 hosts behind a bastion (pg1 primary, pg2 and pg3 standbys)\n", opts.Name)
	lab, err := testenv.Up(ctx, testenv.Spec{Name: opts.Name, StateDir: opts.StateDir, Hosts: 3, Bastion: true, Postgres: true})
	if err != nil {
		return labFailed(ctx, fmt.Errorf("lab demo: %w", err))
	}
	defer func() {
		if opts.Keep {
			fmt.Fprintf(w, "\nlab %s stays up (--keep): pgrunbook lab status --name %s; pgrunbook lab down --name %s\n", lab.Name, lab.Name, lab.Name)
			return
		}
		// Down even when ctx is done: an interrupted demo leaves nothing.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := lab.Down(dctx); derr != nil {
			err = errors.Join(err, labFailed(ctx, fmt.Errorf("lab demo: %w", derr)))
			return
		}
		fmt.Fprintf(w, "\nlab %s is down\n", lab.Name)
	}()

	// The reports outlive the lab (its state directory goes with Down),
	// next to it rather than inside it: a lab refuses a state directory
	// holding files it did not write, so leftovers of an interrupted demo
	// must not sit there. Each demo starts them afresh.
	reports := lab.StateDir + ".reports"
	if err := os.RemoveAll(reports); err != nil {
		return labFailed(ctx, fmt.Errorf("lab demo: clear old reports: %w", err))
	}
	extra := []string{"report_dir=" + reports}
	if opts.EngineBinary != "" {
		extra = append(extra, "engine_binary="+opts.EngineBinary)
	}
	fmt.Fprintf(w, "\nlab demo: the failover drill (%s) makes a split brain\n\n", drill)
	drillRun, err := runDemoPlaybook(ctx, lab.Inventory, drill, nil, w)
	if err != nil {
		return labFailed(ctx, fmt.Errorf("lab demo: drill: %w", err))
	}
	fmt.Fprintf(w, "\nlab demo: the rejoin (%s) through the bastion\n\n", rejoin)
	rejoinRun, err := runDemoPlaybook(ctx, lab.Inventory, rejoin, extra, w)
	if err != nil {
		return labFailed(ctx, fmt.Errorf("lab demo: rejoin: %w", err))
	}
	rep, err := collectDemoReport(lab, reports, drillRun, rejoinRun)
	if err != nil {
		return labFailed(ctx, fmt.Errorf("lab demo: %w", err))
	}
	fmt.Fprintln(w)
	rep.print(w)
	fmt.Fprintf(w, "\nthe staging, lost-data and rewind reports are in %s\n", reports)
	return nil
}

// runDemoPlaybook runs one playbook on the lab as `pgrunbook run` does,
// streaming its text output to w and keeping its events for the report.
func runDemoPlaybook(ctx context.Context, inventory, playbook string, extra []string, w io.Writer) (*demoRun, error) {
	run := &demoRun{}
	opts := runOptions{inventory: inventory, forks: runbook.DefaultForks, output: "text", extra: extra, observe: run.add}
	if err := runRun(ctx, opts, []string{playbook}, w); err != nil {
		return nil, err
	}
	return run, nil
}
