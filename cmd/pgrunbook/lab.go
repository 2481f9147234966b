package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newLabCmd) }

// defaultLabName is the lab `pgrunbook lab` works on without --name.
const defaultLabName = "lab"

// labOptions are the flags every lab subcommand has.
type labOptions struct {
	Name     string
	StateDir string
}

func (o *labOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Name, "name", defaultLabName, "lab name: prefix of its namespaces and links (1-10 of [a-z0-9])")
	cmd.Flags().StringVar(&o.StateDir, "state-dir", "", "where the lab keeps its files (default "+testenv.BaseDir+"/NAME)")
}

// labUpOptions are the flags of `lab up`.
type labUpOptions struct {
	labOptions
	Hosts    int
	Bastion  bool
	Postgres bool
	Clusters int
	HostCPU  float64
}

func (o *labUpOptions) register(cmd *cobra.Command) {
	o.labOptions.register(cmd)
	cmd.Flags().IntVar(&o.Hosts, "hosts", 3, "number of database hosts (pg1..pgN)")
	cmd.Flags().BoolVar(&o.Bastion, "bastion", false, "put the database hosts behind a bastion host")
	cmd.Flags().BoolVar(&o.Postgres, "postgres", false, "run PostgreSQL 15 on the database hosts: per cluster, a primary and streaming standbys")
	cmd.Flags().IntVar(&o.Clusters, "clusters", 1, "with --postgres: split the database hosts into N independent clusters")
	cmd.Flags().Float64Var(&o.HostCPU, "host-cpu", 0, "give every host (the bastion too) a CPU budget of its own of `N` CPUs, as separate machines have (0: hosts share this machine's CPUs)")
}

const labExitCodes = `
Exit codes: 0 done (for status: the lab is up and every sshd runs), 1 the lab
failed (for status: no such lab, or a host is down), 2 usage error.
Needs root: the lab's hosts are network namespaces.`

func newLabCmd() *cobra.Command {
	lab := &cobra.Command{
		Use:   "lab",
		Short: "Run a lab of SSH hosts made of network namespaces on this machine",
		Long: `A lab is a set of hosts made of Linux network namespaces, each with its own
address on 10.77.K.0/24 and its own sshd, for trying playbooks on this machine.
"lab up" writes an inventory for "pgrunbook run -i", a client key and known_hosts.` + "\n" + labExitCodes,
	}
	lab.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabStatusCmd(), newLabDemoCmd())
	return lab
}

func newLabUpCmd() *cobra.Command {
	var opts labUpOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring a lab up (replacing what is left of an earlier one of the same name)",
		Long:  "Bring a lab up, replacing what is left of an earlier one of the same name.\n" + labExitCodes,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabUp(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.register(cmd)
	return cmd
}

func newLabDownCmd() *cobra.Command {
	var opts labOptions
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Take a lab down: its processes, namespaces, links and files",
		Long:  "Take a lab down: its processes, namespaces, links and generated files.\n" + labExitCodes,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabDown(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.register(cmd)
	return cmd
}

func newLabStatusCmd() *cobra.Command {
	var opts labOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's hosts, addresses, sshds and files",
		Long:  "Show a lab's hosts, addresses, sshds and files.\n" + labExitCodes,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabStatus(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.register(cmd)
	return cmd
}

// runLabUp brings the lab up and prints its status.
func runLabUp(ctx context.Context, opts labUpOptions, w io.Writer) error {
	if opts.Hosts < 1 || opts.Hosts > testenv.MaxHosts {
		return withCode(2, fmt.Errorf("lab up: --hosts %d: want 1 to %d", opts.Hosts, testenv.MaxHosts))
	}
	// Zero is the default (one cluster), as in testenv.Spec.
	if opts.Clusters > 1 && !opts.Postgres {
		return withCode(2, fmt.Errorf("lab up: --clusters %d needs --postgres", opts.Clusters))
	}
	if opts.Postgres && (opts.Clusters < 0 || opts.Clusters > opts.Hosts) {
		return withCode(2, fmt.Errorf("lab up: --clusters %d: want 1 to --hosts (%d)", opts.Clusters, opts.Hosts))
	}
	if opts.HostCPU != 0 && (opts.HostCPU < testenv.MinHostCPU || opts.HostCPU > float64(runtime.NumCPU())) {
		return withCode(2, fmt.Errorf("lab up: --host-cpu %g: want 0 (none) or %g to %d CPUs", opts.HostCPU, testenv.MinHostCPU, runtime.NumCPU()))
	}
	spec := testenv.Spec{Name: opts.Name, Hosts: opts.Hosts, Bastion: opts.Bastion, StateDir: opts.StateDir, HostCPU: opts.HostCPU}
	if opts.Postgres {
		spec.Postgres, spec.Clusters = true, opts.Clusters
	}
	lab, err := testenv.Up(ctx, spec)
	if err != nil {
		return labFailed(ctx, err)
	}
	st, err := lab.Status(ctx)
	if err != nil {
		return labFailed(ctx, err)
	}
	printLabStatus(w, st)
	fmt.Fprintf(w, "\nrun a playbook: pgrunbook run PLAYBOOK -i %s\nlog in by hand: ssh -F %s %s\n", st.Inventory, st.SSHConfig, lab.Hosts[0].Name)
	return nil
}

// runLabDown takes the lab down. Without a record of the lab (its state
// was lost, or it never came up) it still removes whatever of that name is
// left on the machine.
func runLabDown(ctx context.Context, opts labOptions, w io.Writer) error {
	lab, err := testenv.Open(ctx, opts.Name, opts.StateDir)
	if errors.Is(err, testenv.ErrNoLab) {
		if err := testenv.Purge(ctx, opts.Name); err != nil {
			return labFailed(ctx, err)
		}
		fmt.Fprintf(w, "lab %s: no record of it; removed whatever of it was left\n", opts.Name)
		return nil
	}
	if err != nil {
		return labFailed(ctx, err)
	}
	if err := lab.Down(ctx); err != nil {
		return labFailed(ctx, err)
	}
	fmt.Fprintf(w, "lab %s is down\n", lab.Name)
	return nil
}

// runLabStatus prints the lab's status; it fails when the lab is not
// there or a host is down, so scripts can wait on it.
func runLabStatus(ctx context.Context, opts labOptions, w io.Writer) error {
	lab, err := testenv.Open(ctx, opts.Name, opts.StateDir)
	if err != nil {
		return labFailed(ctx, err)
	}
	st, err := lab.Status(ctx)
	if err != nil {
		return labFailed(ctx, err)
	}
	printLabStatus(w, st)
	var down []string
	for _, h := range st.Hosts {
		if !h.NamespaceUp || !h.SSHDAlive() {
			down = append(down, h.Name)
		}
	}
	if len(down) > 0 {
		return withCode(1, fmt.Errorf("lab %s: hosts down: %s", st.Name, strings.Join(down, ", ")))
	}
	return nil
}

// labFailed marks err as a lab failure (exit 1), unless the command was
// interrupted, which main reports as such (exit 130).
func labFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return withCode(1, err)
}

func printLabStatus(w io.Writer, st testenv.Status) {
	fmt.Fprintf(w, "lab %s\n", st.Name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	network := st.Subnet
	if st.HostSubnet != st.Subnet {
		network += " (database hosts on " + st.HostSubnet + ", behind the bastion)"
	}
	fmt.Fprintf(tw, "  network\t%s\n", network)
	fmt.Fprintf(tw, "  state dir\t%s\n", st.StateDir)
	fmt.Fprintf(tw, "  inventory\t%s\n", st.Inventory)
	fmt.Fprintf(tw, "  key\t%s\n", st.Key)
	fmt.Fprintf(tw, "  known_hosts\t%s\n", st.KnownHosts)
	fmt.Fprintf(tw, "  ssh_config\t%s\n", st.SSHConfig)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pg := slices.ContainsFunc(st.Hosts, func(h testenv.HostStatus) bool { return h.Cluster != "" })
	header := "HOST\tROLE\tADDRESS\tNAMESPACE\tSSHD"
	if pg {
		header += "\tCLUSTER\tPOSTGRES"
	}
	fmt.Fprintln(tw, header)
	for _, h := range st.Hosts {
		sshd := "down"
		switch {
		case !h.NamespaceUp:
			sshd = "down (no namespace)"
		case h.SSHDAlive():
			sshd = fmt.Sprintf("up (pid %d)", h.SSHDPID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%s\t%s", h.Name, h.Role, h.Address, h.Port, h.Namespace, sshd)
		if pg {
			fmt.Fprintf(tw, "\t%s\t%s", h.Cluster, pgColumn(h))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// pgColumn says what a host's PostgreSQL is: its role now (or, when it is
// down, the role its data directory would start in) and whether it runs.
func pgColumn(h testenv.HostStatus) string {
	switch {
	case h.Cluster == "":
		return "-"
	case h.PGRole == "":
		return "no cluster"
	case h.PGUp:
		return h.PGRole + ", up"
	}
	return h.PGRole + ", down"
}
