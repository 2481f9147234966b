package runbook

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// defaultUntilRetries is how often a step with `until` but no `retries` is
// retried, as in Ansible.
const defaultUntilRetries = 3

// stepResult is the verdict on one step on one host.
type stepResult struct {
	status  Status
	msg     string
	ignored bool
	outcome Outcome
	// registered is what `register` stores: rc, stdout, stderr,
	// stdout_lines, changed, failed, skipped, msg and the step's facts.
	registered map[string]any
}

// stops reports whether the host can go no further after this result.
func (res stepResult) stops() bool {
	return res.status == StatusUnreachable || (res.status == StatusFailed && !res.ignored)
}

// execute runs one step on the host, from its step_start to its step_end
// event, and applies ignore_errors.
func (hr *hostRun) execute(ctx context.Context, s *Step) stepResult {
	start := time.Now()
	hr.emit(Event{Type: EventStepStart, Step: s.Name})
	res := hr.attempt(ctx, s)
	res.ignored = s.IgnoreErrors && res.status == StatusFailed
	ev := Event{
		Type:       EventStepEnd,
		Step:       s.Name,
		Status:     res.status,
		DurationMS: time.Since(start).Milliseconds(),
		Msg:        res.msg,
		Ignored:    res.ignored,
	}
	if hr.r.opts.Diff {
		ev.Diffs = res.outcome.Diffs
	}
	hr.emit(ev)
	return res
}

// attempt checks `when`, prepares the step and runs it, as often as
// retries and until ask.
func (hr *hostRun) attempt(ctx context.Context, s *Step) stepResult {
	if s.When != "" {
		ok, err := EvalCondition(s.When, hr.vars)
		if err != nil {
			return hr.fail(s, "when: "+err.Error())
		}
		if !ok {
			return hr.skip(s, "condition is false: "+s.When)
		}
	}
	hr.r.events.redact.addRendered(s.Params, hr.vars)
	action, err := s.Action(hr.vars)
	if err != nil {
		return hr.fail(s, fmt.Sprintf("prepare step %q: %v", s.Name, err))
	}
	t, res, ok := hr.target(ctx, s)
	if !ok {
		return res
	}
	attempts := 1
	if s.Until != "" || s.Retries > 0 {
		retries := s.Retries
		if retries == 0 {
			retries = defaultUntilRetries
		}
		attempts = retries + 1
	}
	for n := 1; ; n++ {
		out, err := action.Run(ctx, t)
		res := hr.judge(ctx, s, out, err)
		if res.status == StatusUnreachable || ctx.Err() != nil || attempts == 1 {
			return res
		}
		done := res.status != StatusFailed
		if s.Until != "" {
			ok, err := EvalCondition(s.Until, hr.vars)
			if err != nil {
				return hr.fail(s, "until: "+err.Error())
			}
			done = ok
		}
		if done {
			return res
		}
		if n >= attempts {
			if s.Until != "" {
				res.msg = fmt.Sprintf("until %q still false after %d attempts: %s", s.Until, n, res.msg)
				res.status = StatusFailed
				res.registered["failed"] = true
				res.registered["msg"] = res.msg
			}
			return res
		}
		hr.emit(Event{Type: EventOutput, Step: s.Name, Stream: "retry",
			Line: fmt.Sprintf("attempt %d of %d did not succeed, retrying in %s: %s", n, attempts, s.Delay, res.msg)})
		if !sleepCtx(ctx, s.Delay) {
			return hr.fail(s, "interrupted while waiting to retry")
		}
	}
}

// target renders become and delegate_to and opens (once) the connection of
// the host the step runs on. ok is false when res is the step's result.
func (hr *hostRun) target(ctx context.Context, s *Step) (t *Target, res stepResult, ok bool) {
	become := hr.r.pb.Become
	if s.Become != nil {
		become = *s.Become
	}
	become, err := hr.render("become", become)
	if err != nil {
		return nil, hr.fail(s, err.Error()), false
	}
	on := hr.host
	if s.DelegateTo != "" {
		name, err := hr.render("delegate_to", s.DelegateTo)
		if err != nil {
			return nil, hr.fail(s, err.Error()), false
		}
		if on = hr.r.inv.Hosts[name]; on == nil {
			return nil, hr.fail(s, fmt.Sprintf("delegate_to %q: no such inventory host", name)), false
		}
	}
	conn, err := hr.r.conns.get(ctx, on)
	if err != nil {
		if ctx.Err() != nil {
			return nil, hr.fail(s, "interrupted: "+err.Error()), false
		}
		return nil, hr.result(s, StatusUnreachable, err.Error(), Outcome{}), false
	}
	name := s.Name
	t = &Target{
		Host:   on,
		Conn:   conn,
		Become: become,
		Check:  hr.r.opts.Check,
		Diff:   hr.r.opts.Diff,
		Output: func(stream, line string) {
			hr.emit(Event{Type: EventOutput, Step: name, Stream: stream, Line: line})
		},
		Progress: func(p Progress) {
			hr.emit(Event{Type: EventProgress, Step: name, Progress: &p})
		},
		redactor: hr.r.events.redact,
	}
	t.Peers = hr.peers(t)
	return t, stepResult{}, true
}

// judge turns what an action returned into the step's result, applying
// changed_when and failed_when. Both conditions, and later until, see the
// result under the step's register name, as in Ansible.
func (hr *hostRun) judge(ctx context.Context, s *Step, out Outcome, err error) stepResult {
	msg := out.Msg
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return hr.result(s, StatusFailed, "interrupted: "+err.Error(), out)
		case transport.IsUnreachable(err):
			return hr.result(s, StatusUnreachable, err.Error(), out)
		}
		msg = err.Error()
	}
	failed := err != nil
	changed := out.Changed
	skipped := out.Skipped && !failed
	reg := registered(out, msg, changed, failed, skipped)
	hr.bind(s, reg)
	if s.ChangedWhen != "" {
		ok, cerr := EvalCondition(s.ChangedWhen, hr.vars)
		if cerr != nil {
			return hr.fail(s, "changed_when: "+cerr.Error())
		}
		changed = ok
		reg["changed"] = ok
	}
	if s.FailedWhen != "" {
		ok, ferr := EvalCondition(s.FailedWhen, hr.vars)
		if ferr != nil {
			return hr.fail(s, "failed_when: "+ferr.Error())
		}
		if ok && !failed {
			msg = joinMsg("failed_when is true: "+s.FailedWhen, msg)
		}
		failed = ok
		reg["failed"] = ok
		reg["msg"] = msg
	}
	res := stepResult{msg: msg, outcome: out, registered: reg}
	switch {
	case failed:
		res.status = StatusFailed
	case skipped:
		res.status = StatusSkipped
	case changed:
		res.status = StatusChanged
	default:
		res.status = StatusOK
	}
	return res
}

// result builds a result that conditions do not apply to.
func (hr *hostRun) result(s *Step, status Status, msg string, out Outcome) stepResult {
	failed := status == StatusFailed || status == StatusUnreachable
	reg := registered(out, msg, false, failed, status == StatusSkipped)
	if status == StatusUnreachable {
		reg["unreachable"] = true
	}
	hr.bind(s, reg)
	return stepResult{status: status, msg: msg, outcome: out, registered: reg}
}

func (hr *hostRun) fail(s *Step, msg string) stepResult {
	return hr.result(s, StatusFailed, msg, Outcome{})
}

func (hr *hostRun) skip(s *Step, msg string) stepResult {
	return hr.result(s, StatusSkipped, msg, Outcome{})
}

// bind makes a result visible under the step's register name at once, so
// that changed_when, failed_when and until can refer to it.
func (hr *hostRun) bind(s *Step, reg map[string]any) {
	if s.Register != "" {
		hr.vars[s.Register] = reg
	}
}

// render renders a template found in a step option.
func (hr *hostRun) render(option, text string) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	out, err := Render(text, hr.vars)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", option, text, err)
	}
	return out, nil
}

// registered is the map `register` stores for a step result.
func registered(out Outcome, msg string, changed, failed, skipped bool) map[string]any {
	reg := make(map[string]any, len(out.Facts)+9)
	for k, v := range out.Facts {
		reg[k] = v
	}
	var lines []string
	if out.Stdout != "" {
		lines = strings.Split(strings.TrimSuffix(out.Stdout, "\n"), "\n")
	}
	reg["rc"] = out.RC
	reg["stdout"] = out.Stdout
	reg["stderr"] = out.Stderr
	reg["stdout_lines"] = lines
	reg["changed"] = changed
	reg["failed"] = failed
	reg["skipped"] = skipped
	reg["msg"] = msg
	return reg
}

// joinMsg puts a reason in front of a step's own message.
func joinMsg(reason, msg string) string {
	if msg == "" {
		return reason
	}
	return reason + ": " + msg
}

// sleepCtx waits for d or until ctx is done, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
