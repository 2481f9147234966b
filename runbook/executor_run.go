package runbook

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// execution is the state of one Run: what was selected, the connections and the
// recap being filled in.
type execution struct {
	opts   RunOptions
	pb     *Playbook
	inv    *Inventory
	steps  []*Step
	forks  int
	events *emitter
	conns  *connPool
	recap  Recap
}

// newRun checks the options and plans the batches; any error here means
// nothing has run.
func newRun(opts RunOptions) (*execution, [][]*Host, error) {
	if opts.Forks < 0 {
		return nil, nil, fmt.Errorf("run: forks must be at least 1, got %d", opts.Forks)
	}
	hosts, err := SelectHosts(opts.Playbook, opts.Inventory, opts.Limit)
	if err != nil {
		return nil, nil, err
	}
	serial := opts.Playbook.Serial
	if opts.Serial != "" {
		serial = opts.Serial
	}
	batches, err := Batches(hosts, serial)
	if err != nil {
		return nil, nil, err
	}
	steps, err := SelectSteps(opts.Playbook.Steps, opts.Tags, opts.SkipTags, opts.StartAt)
	if err != nil {
		return nil, nil, err
	}
	r := &execution{
		opts:   opts,
		pb:     opts.Playbook,
		inv:    opts.Inventory,
		steps:  steps,
		forks:  opts.Forks,
		events: &emitter{deliver: opts.Events, redact: RunRedactor(opts.Playbook, opts.Inventory, hosts, opts.Extra)},
		recap: Recap{
			Hosts:   make(map[string]HostRecap, len(hosts)),
			Ignored: make(map[string]int),
		},
	}
	if r.forks == 0 {
		r.forks = DefaultForks
	}
	for _, h := range hosts {
		r.recap.Order = append(r.recap.Order, h.Name)
		r.recap.Hosts[h.Name] = HostRecap{}
	}
	connect := opts.Connect
	if connect == nil {
		connect = r.dial
	}
	r.conns = newConnPool(connect, r.connVars)
	return r, batches, nil
}

// connVars are the variables a host is connected with: its own merged
// variables, whichever host's step needs the connection.
func (r *execution) connVars(h *Host) map[string]any {
	return r.inv.HostVars(h, r.pb, r.opts.Extra)
}

// dial is the default ConnectFunc: SSH, or this machine for a host whose
// connection variable says local.
func (r *execution) dial(ctx context.Context, h *Host, vars map[string]any) (transport.Conn, error) {
	kind, err := stringVar(vars, VarConnection, "ssh")
	if err != nil {
		return nil, fmt.Errorf("host %s: variable %q: %w", h.Name, VarConnection, err)
	}
	switch kind {
	case "ssh":
	case "local":
		return transport.NewLocal(), nil
	default:
		return nil, fmt.Errorf("host %s: variable %q: %q is neither ssh nor local", h.Name, VarConnection, kind)
	}
	cfg, err := SSHConfigFor(r.inv, h, vars)
	if err != nil {
		return nil, err
	}
	return transport.DialSSH(ctx, cfg)
}

// runBatch runs one batch: hosts are dispatched in order, at most forks at
// once. Dispatching in order matters for run_once: the first unfinished
// host of the batch always holds a slot, so a host waiting for it never
// waits for a host that waits for a slot.
func (r *execution) runBatch(ctx context.Context, hosts []*Host) {
	b := newBatch(len(hosts))
	runs := make([]*hostRun, len(hosts))
	slots := make(chan struct{}, r.forks)
	var wg sync.WaitGroup
	for i, h := range hosts {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			for j := i; j < len(hosts); j++ {
				b.finish(j)
				r.recap.notStarted(hosts[j].Name)
			}
			break
		}
		hr := r.newHostRun(h, b, i)
		runs[i] = hr
		wg.Go(func() {
			defer func() { <-slots }()
			defer b.finish(i)
			hr.run(ctx)
		})
	}
	wg.Wait()
	for _, hr := range runs {
		if hr == nil {
			continue
		}
		r.recap.Hosts[hr.host.Name] = hr.counts
		if hr.ignored > 0 {
			r.recap.Ignored[hr.host.Name] = hr.ignored
		}
		if len(hr.notes) > 0 {
			if r.recap.Notes == nil {
				r.recap.Notes = map[string][]string{}
			}
			r.recap.Notes[hr.host.Name] = hr.notes
		}
	}
}

// notStarted records every host of batches as never started.
func (r *execution) notStarted(batches [][]*Host) {
	for _, b := range batches {
		for _, h := range b {
			r.recap.notStarted(h.Name)
		}
	}
}

// emitter serializes the delivery of events from the hosts' goroutines and
// stamps their time in delivery order.
// Every event passes through the run's Redactor first, so that no
// secret reaches the operator, whichever step printed it.
type emitter struct {
	mu      sync.Mutex
	deliver func(Event)
	redact  *Redactor
}

func (e *emitter) emit(ev Event) {
	if e.deliver == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ev.Time = time.Now()
	e.deliver(e.redact.Event(ev))
}
