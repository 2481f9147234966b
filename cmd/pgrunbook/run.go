package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps"
)

func init() { subcommands = append(subcommands, newRunCmd) }

// runOptions are the flags of `pgrunbook run`.
type runOptions struct {
	inventory string
	check     bool
	diff      bool
	limit     string
	forks     int
	serial    string
	extra     []string
	tags      []string
	skipTags  []string
	startAt   string
	output    string

	// connect replaces SSH in tests; nil means the inventory's connection
	// settings.
	connect runbook.ConnectFunc
	// observe, when set, sees every event too (after redaction), for
	// callers that report on a run, such as the lab demo.
	observe func(runbook.Event)
}

func (o *runOptions) register(f *pflag.FlagSet) {
	f.StringVarP(&o.inventory, "inventory", "i", "", "the inventory, a YAML `FILE`")
	f.BoolVar(&o.check, "check", false, "inspect only: report what would change, change nothing")
	f.BoolVar(&o.diff, "diff", false, "show the before and after of every file a step changes")
	f.StringVarP(&o.limit, "limit", "l", "", "run only on the playbook's hosts that `PATTERN` also selects")
	f.IntVarP(&o.forks, "forks", "f", runbook.DefaultForks, "how many hosts run at once")
	f.StringVar(&o.serial, "serial", "", "batch size, `N` hosts or P% of them, overriding the playbook's serial")
	f.StringArrayVarP(&o.extra, "extra-vars", "e", nil, "set variable `KEY=VALUE`, above every other source (repeatable)")
	f.StringSliceVar(&o.tags, "tags", nil, "run only the steps with one of these `TAGS` (comma-separated)")
	f.StringSliceVar(&o.skipTags, "skip-tags", nil, "skip the steps with one of these `TAGS` (comma-separated)")
	f.StringVar(&o.startAt, "start-at-step", "", "start at the step called `NAME`, skipping the ones before it")
	f.StringVarP(&o.output, "output", "o", "text", "output `FORMAT`: text, or json (one event object per line)")
}

func newRunCmd() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run PLAYBOOK -i INVENTORY",
		Short: "Run a playbook on the hosts of an inventory",
		Long: `Run a playbook's steps on the hosts its pattern selects in the inventory,
over one SSH connection per host.

Hosts run in parallel (--forks) within serial batches (--serial or the
playbook's serial); a failed step stops its host, and the playbook's
max_fail_percentage stops further batches once that share of all hosts has
failed. The playbook is checked completely (keys, templates for every host,
step parameters) before any host is contacted.

Exit codes:
  0    every host ran every selected step successfully
  2    usage, inventory or playbook error: nothing ran
  3    a step failed on some host (failures under ignore_errors do not count)
  4    some host was unreachable (takes precedence over 3)
  130  interrupted (SIGINT or SIGTERM)`,
		Example: `  pgrunbook run playbooks/rejoin.yml -i inventory.yml --limit pg1 --check --diff
  pgrunbook run playbooks/rejoin.yml -i inventory.yml -e new_primary=pg2 --output json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(runbook.ExitUsage, fmt.Errorf("run: want exactly one PLAYBOOK, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), opts, args, cmd.OutOrStdout())
		},
	}
	opts.register(cmd.Flags())
	return cmd
}

// eventRenderer is what both renderers offer.
type eventRenderer interface {
	Event(runbook.Event)
	Err() error
}

// runRun loads, checks and runs the playbook args[0], writing the event
// stream to stdout. Its error carries the exit code.
func runRun(ctx context.Context, opts runOptions, args []string, stdout io.Writer) error {
	// Errors may quote a connection string or a variable's value: they are
	// redacted as the run's events are, with what is known by then (a nil
	// Redactor masks connection string passwords only).
	var red *runbook.Redactor
	usage := func(err error) error { return withCode(runbook.ExitUsage, red.Error(err)) }
	if len(args) != 1 {
		return usage(fmt.Errorf("run: want exactly one PLAYBOOK, got %d arguments", len(args)))
	}
	var out eventRenderer
	switch opts.output {
	case "text":
		out = runbook.NewTextRenderer(stdout)
	case "json":
		out = runbook.NewJSONRenderer(stdout)
	default:
		return usage(fmt.Errorf("run: --output %q: want text or json", opts.output))
	}
	if opts.inventory == "" {
		return usage(errors.New("run: an inventory is required (-i FILE)"))
	}
	if opts.forks < 1 {
		return usage(fmt.Errorf("run: --forks %d: want at least 1", opts.forks))
	}
	inv, err := runbook.LoadInventory(opts.inventory)
	if err != nil {
		return usage(err)
	}
	pb, err := runbook.LoadPlaybook(args[0], steps.Kinds())
	if err != nil {
		return usage(err)
	}
	extra, err := runbook.ParseExtraVars(opts.extra)
	if err != nil {
		return usage(err)
	}
	red = runbook.RunRedactor(pb, inv, nil, extra)
	hosts, err := runbook.SelectHosts(pb, inv, opts.limit)
	if err != nil {
		return usage(err)
	}
	if err := runbook.Validate(pb, inv, hosts, extra); err != nil {
		return usage(err)
	}
	if text, ok := out.(*runbook.TextRenderer); ok {
		names := make([]string, len(hosts))
		for i, h := range hosts {
			names[i] = h.Name
		}
		text.Play(pb.Name, names)
	}
	events := out.Event
	if opts.observe != nil {
		events = func(e runbook.Event) {
			out.Event(e)
			opts.observe(e)
		}
	}
	recap, err := runbook.Run(ctx, runbook.RunOptions{
		Playbook:  pb,
		Inventory: inv,
		Limit:     opts.limit,
		Forks:     opts.forks,
		Serial:    opts.serial,
		Extra:     extra,
		Tags:      opts.tags,
		SkipTags:  opts.skipTags,
		StartAt:   opts.startAt,
		Check:     opts.check,
		Diff:      opts.diff,
		Connect:   opts.connect,
		Events:    events,
	})
	if err != nil {
		return usage(err)
	}
	code := recap.ExitCode()
	if code == runbook.ExitOK {
		// The run succeeded even if its output could not be written (a
		// closed pipe): say so, but keep the exit code honest.
		if werr := out.Err(); werr != nil {
			return withCode(code, werr)
		}
		return nil
	}
	return withCode(code, fmt.Errorf("run %s: %s", args[0], summary(recap)))
}

// summary says in one line what went wrong, for stderr.
func summary(r runbook.Recap) string {
	var parts []string
	if r.Interrupted {
		parts = append(parts, "interrupted")
	}
	if h := r.UnreachableHosts(); len(h) > 0 {
		parts = append(parts, "unreachable: "+strings.Join(h, ", "))
	}
	if h := r.FailedHosts(); len(h) > 0 {
		parts = append(parts, "failed: "+strings.Join(h, ", "))
	}
	if r.Aborted != "" {
		parts = append(parts, "stopped: "+r.Aborted)
	}
	if len(r.NotStarted) > 0 {
		parts = append(parts, "not started: "+strings.Join(r.NotStarted, ", "))
	}
	return strings.Join(parts, "; ")
}
