package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// clusterState is the part of pg_control the PostgreSQL steps decide on.
type clusterState struct {
	// State is pg_controldata's wording: "shut down", "in production", ...
	State string
	// Timeline is the latest checkpoint's timeline.
	Timeline uint32
	// WalMinimal is true when the server last ran with wal_level minimal.
	WalMinimal bool
}

// cleanlyShutDown reports whether the cluster needs no crash recovery
// before it can be rewound or started as a standby.
func (s clusterState) cleanlyShutDown() bool {
	return s.State == pgcontrol.ShutDown.String() || s.State == pgcontrol.ShutDownInRecovery.String()
}

// state reads pg_control: with our own parser when the major's layout is
// checked, and otherwise through the host's pg_controldata, whose wording
// our parser reproduces, so both paths give the same answers.
func (d *dataDir) state(ctx context.Context, t *runbook.Target) (clusterState, error) {
	cf, err := d.control(ctx, t)
	if err == nil {
		return clusterState{
			State:      cf.State.String(),
			Timeline:   uint32(cf.CheckPointCopy.ThisTimeLineID),
			WalMinimal: cf.WalLevel == pgcontrol.WalLevelMinimal,
		}, nil
	}
	res, rerr := run(ctx, t, transport.Command{
		Argv: []string{d.bin("pg_controldata"), "-D", d.Path},
		Env:  map[string]string{"LC_ALL": "C"},
	})
	if rerr != nil || res.ExitCode != 0 {
		if rerr == nil {
			rerr = failure(res)
		}
		return clusterState{}, fmt.Errorf("%w; pg_controldata -D %s: %w", err, d.Path, rerr)
	}
	return parseControlData(res.Stdout)
}

// parseControlData picks the state, timeline and wal_level out of
// pg_controldata's output (run with LC_ALL=C).
func parseControlData(out string) (clusterState, error) {
	var s clusterState
	var seen int
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Database cluster state":
			s.State = v
			seen++
		case "Latest checkpoint's TimeLineID":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return s, fmt.Errorf("parse pg_controldata timeline %q: %w", v, err)
			}
			s.Timeline = uint32(n)
			seen++
		case "wal_level setting":
			s.WalMinimal = v == "minimal"
		}
	}
	if seen != 2 {
		return s, fmt.Errorf("parse pg_controldata output: no cluster state or timeline")
	}
	return s, nil
}
