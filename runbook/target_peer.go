package runbook

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// ErrNoPeers is returned by Peer on a Target that cannot open other hosts
// (one a test built without Peers).
var ErrNoPeers = errors.New("this target cannot reach other hosts")

// ErrPeerUnreachable marks Peer's errors for a host that could not be
// reached. They deliberately do not match transport.ErrUnreachable: the
// step's own host is fine, and a step that fails with such an error must
// not have its host reported unreachable.
var ErrPeerUnreachable = errors.New("peer host unreachable")

// Peer returns the Target of another inventory host, name, for a step
// that must also act there: the rewind step runs its stream server on the
// new primary. The peer's connection is the run's one connection to that
// host (opened on first use, shared with every step, closed at the end of
// the run); its Host carries the peer's merged variables; Become, Check,
// Diff and the event functions are the step's own, so the peer's output
// shows under the step and its host. A peer that cannot be reached
// returns an error matching ErrPeerUnreachable.
func (t *Target) Peer(ctx context.Context, name string) (*Target, error) {
	if t == nil || t.Peers == nil {
		return nil, fmt.Errorf("open host %s: %w", name, ErrNoPeers)
	}
	return t.Peers(ctx, name)
}

// peers returns the Peers function of a step's Target.
func (hr *hostRun) peers(step *Target) func(ctx context.Context, name string) (*Target, error) {
	return func(ctx context.Context, name string) (*Target, error) {
		h := hr.r.inv.Hosts[name]
		if h == nil {
			return nil, fmt.Errorf("open host %s: no such inventory host", name)
		}
		conn, err := hr.r.conns.get(ctx, h)
		if err != nil {
			if transport.IsUnreachable(err) {
				return nil, &peerUnreachableError{err: err}
			}
			return nil, fmt.Errorf("open host %s: %w", name, err)
		}
		p := *step
		p.Host = &Host{Name: h.Name, Vars: hr.r.connVars(h), Groups: h.Groups}
		p.Conn = conn
		return &p, nil
	}
}

// peerUnreachableError keeps the message of a peer's connect error while
// matching ErrPeerUnreachable instead of transport.ErrUnreachable.
type peerUnreachableError struct{ err error }

// Error returns the connect error's message.
func (e *peerUnreachableError) Error() string { return e.err.Error() }

// Is reports whether target is ErrPeerUnreachable.
func (e *peerUnreachableError) Is(target error) bool { return target == ErrPeerUnreachable }
