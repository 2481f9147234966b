package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// receiverState is what pg_stat_wal_receiver shows.
type receiverState struct {
	Status string
	Host   string
	Port   int
	TLI    int64
	Err    string
}

// checkReceiver waits until the node's WAL receiver streams from the
// primary on the primary's timeline, then reports both. The primary's
// address is accepted as written in its conninfo or as the server reports
// it (inet_server_addr/port), since the node may name the same server
// either way.
func (r *verifyRun) checkReceiver(ctx context.Context, primaryTLI int64) {
	hosts, ports := r.primaryAddress(ctx)
	var st receiverState
	r.poll(ctx, func() (bool, string) {
		st = r.receiver(ctx)
		return st.Status == "streaming" && hosts[st.Host] && ports[st.Port] && st.TLI == primaryTLI, ""
	})
	const name = "WAL receiver streaming from the primary"
	from := st.Host + ":" + strconv.Itoa(st.Port)
	switch {
	case st.Err != "":
		r.add(name, false, st.Err)
	case st.Status != "streaming":
		r.add(name, false, "WAL receiver status "+strconv.Quote(st.Status))
	case !hosts[st.Host] || !ports[st.Port]:
		r.add(name, false, fmt.Sprintf("streams from %s, not from the primary (%s)", from, describeAddr(hosts, ports)))
	default:
		r.add(name, true, "from "+from)
	}
	src := ""
	if st.TLI == 0 {
		// No WAL received (yet): the timeline of the node's last
		// restartpoint is the best it can tell.
		var tli *int64
		if err := r.node.QueryRow(ctx, "SELECT timeline_id::bigint FROM pg_control_checkpoint()").Scan(&tli); err == nil && tli != nil {
			st.TLI, src = *tli, " (from the node's last restartpoint; it received no WAL)"
		}
	}
	switch {
	case st.TLI == 0:
		r.add("same timeline as the primary", false, "unknown: the node received no WAL")
	case st.TLI != primaryTLI:
		r.add("same timeline as the primary", false, fmt.Sprintf("node is on timeline %d, primary on %d%s", st.TLI, primaryTLI, src))
	default:
		r.add("same timeline as the primary", true, fmt.Sprintf("timeline %d%s", st.TLI, src))
	}
}

// receiver reads the node's WAL receiver; no row means none runs.
func (r *verifyRun) receiver(ctx context.Context) receiverState {
	var status, host *string
	var port *int32
	var tli *int64
	err := r.node.QueryRow(ctx,
		"SELECT status, received_tli::bigint, sender_host, sender_port FROM pg_stat_wal_receiver").Scan(&status, &tli, &host, &port)
	if errors.Is(err, pgx.ErrNoRows) {
		return receiverState{Err: "no WAL receiver runs on the node"}
	}
	if err != nil {
		return receiverState{Err: "query pg_stat_wal_receiver: " + r.clean(err)}
	}
	st := receiverState{Status: deref(status), Host: deref(host)}
	if port != nil {
		st.Port = int(*port)
	}
	if tli != nil {
		st.TLI = *tli
	}
	return st
}

// primaryAddress is the set of hosts and ports that name the primary.
func (r *verifyRun) primaryAddress(ctx context.Context) (map[string]bool, map[int]bool) {
	cfg := r.primary.Config()
	hosts := map[string]bool{cfg.Host: true}
	ports := map[int]bool{int(cfg.Port): true}
	var addr *string
	var port *int32
	if err := r.primary.QueryRow(ctx, "SELECT host(inet_server_addr()), inet_server_port()").Scan(&addr, &port); err == nil {
		if addr != nil {
			hosts[*addr] = true
		}
		if port != nil {
			ports[int(*port)] = true
		}
	}
	return hosts, ports
}

func describeAddr(hosts map[string]bool, ports map[int]bool) string {
	s := ""
	for h := range hosts {
		for p := range ports {
			if s != "" {
				s += " or "
			}
			s += h + ":" + strconv.Itoa(p)
		}
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkReplay nudges the primary with a tiny WAL record and waits until the
// node has replayed everything the primary has flushed. The logical message
// is not transactional and writes only WAL; it is what makes an idle
// primary's position move, so replay is proven live rather than assumed.
// Under --check nothing is written and the current position is used.
func (r *verifyRun) checkReplay(ctx context.Context) {
	nudge := ""
	if !r.t.Check {
		if _, err := r.primary.Exec(ctx, "SELECT pg_logical_emit_message(false, 'pgrunbook', 'verify')"); err != nil {
			nudge = " (no WAL nudge: " + r.clean(err) + ")"
		}
	}
	var target string
	if err := r.primary.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&target); err != nil {
		r.add("replay reaches the primary's position", false, "read the primary's position: "+r.clean(err))
		return
	}
	var replayed *string
	ok, detail := r.poll(ctx, func() (bool, string) {
		var done bool
		err := r.node.QueryRow(ctx,
			"SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false), pg_last_wal_replay_lsn()::text", target).Scan(&done, &replayed)
		if err != nil {
			return false, r.clean(err)
		}
		return done, ""
	})
	if detail == "" {
		detail = fmt.Sprintf("replayed %s, primary at %s", deref(replayed), target)
		if !ok {
			detail = fmt.Sprintf("replayed only %s of the primary's %s within %s", orNone(deref(replayed)), target, r.v.timeout())
		}
	}
	r.add("replay reaches the primary's position", ok, detail+nudge)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
