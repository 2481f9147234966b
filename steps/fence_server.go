package steps

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/runbook"
)

// serverInfo is what the fence learns from a server over SQL.
type serverInfo struct {
	// Subject names the server for messages (host and port, no password).
	Subject          string
	InRecovery       bool
	SystemIdentifier uint64
	// Timeline is the timeline the server writes (a primary) or replays
	// (a standby).
	Timeline uint32
	// History lists the timelines of the server's history file, oldest
	// first, ending with Timeline.
	History []uint32
}

// inspectServer connects to conninfo from the bastion through the host's
// connection and reads recovery state, system identifier, timeline and,
// for a primary past timeline 1, its timeline history.
func inspectServer(ctx context.Context, t *runbook.Target, conninfo string) (*serverInfo, error) {
	info := &serverInfo{Subject: serverSubject(conninfo)}
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", info.Subject, redact(err, conninfo, nil))
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.Conn.Dial(ctx, network, addr)
	}
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{host}, nil }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", info.Subject, redact(err, conninfo, cfg))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx) // only read
	}()
	var sysid string
	var recTLI, walTLI *string
	err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery(), (SELECT system_identifier::text FROM pg_control_system()),
		CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id::text FROM pg_control_checkpoint()) END,
		CASE WHEN NOT pg_is_in_recovery() THEN substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) END`).
		Scan(&info.InRecovery, &sysid, &recTLI, &walTLI)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", info.Subject, redact(err, conninfo, cfg))
	}
	if info.SystemIdentifier, err = strconv.ParseUint(sysid, 10, 64); err != nil {
		return nil, fmt.Errorf("query %s: system identifier %q: %w", info.Subject, sysid, err)
	}
	switch {
	case walTLI != nil:
		v, err := strconv.ParseUint(*walTLI, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("query %s: timeline of WAL file %q: %w", info.Subject, *walTLI, err)
		}
		info.Timeline = uint32(v)
	case recTLI != nil:
		v, _ := strconv.ParseUint(*recTLI, 10, 32)
		info.Timeline = uint32(v)
	}
	if info.InRecovery || info.Timeline <= 1 {
		info.History = []uint32{info.Timeline}
		return info, nil
	}
	name := fmt.Sprintf("%08X.history", info.Timeline)
	var content []byte
	if err := conn.QueryRow(ctx, "SELECT pg_read_binary_file($1)", "pg_wal/"+name).Scan(&content); err != nil {
		return nil, fmt.Errorf("read timeline history %s of %s: %w (the role needs the rewind role's grants)",
			name, info.Subject, redact(err, conninfo, cfg))
	}
	h, err := timeline.Parse(name, content, lsn.TimeLineID(info.Timeline))
	if err != nil {
		return nil, fmt.Errorf("read timeline history %s of %s: %w", name, info.Subject, err)
	}
	for _, e := range h {
		info.History = append(info.History, uint32(e.TLI))
	}
	return info, nil
}

// hasTimeline reports whether tli is in the server's history.
func (s *serverInfo) hasTimeline(tli uint32) bool { return slices.Contains(s.History, tli) }

// historyText lists the history's timelines, e.g. "timelines 1, 3".
func (s *serverInfo) historyText() string {
	parts := make([]string, len(s.History))
	for i, tli := range s.History {
		parts[i] = strconv.FormatUint(uint64(tli), 10)
	}
	return "timelines " + strings.Join(parts, ", ")
}

// serverSubject names a server by host and port from its conninfo, never
// with a password.
func serverSubject(conninfo string) string {
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return "the server"
	}
	return fmt.Sprintf("%s port %d", cfg.Host, cfg.Port)
}
