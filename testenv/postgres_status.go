package testenv

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// pgStatusWait bounds the question status asks a server, so that a hung
// server makes status slow, never stuck.
const pgStatusWait = 3 * time.Second

// The roles HostStatus.PGRole reports.
const (
	RolePrimary = "primary"
	RoleStandby = "standby"
)

// pgStatus asks the host's server whether it is in recovery. A server that
// does not answer is down, and its role is what its data directory says
// it would start as.
func (l *Lab) pgStatus(ctx context.Context, h *Host) (role string, up bool) {
	ctx, cancel := context.WithTimeout(ctx, pgStatusWait)
	defer cancel()
	if v, err := l.pgCluster(h).QueryValue(ctx, "postgres", "SELECT pg_is_in_recovery()"); err == nil {
		if v == "t" {
			return RoleStandby, true
		}
		return RolePrimary, true
	}
	if _, err := os.Stat(filepath.Join(h.Dirs.DataDir, "PG_VERSION")); err != nil {
		return "", false
	}
	if _, err := os.Stat(filepath.Join(h.Dirs.DataDir, "standby.signal")); err == nil {
		return RoleStandby, false
	}
	return RolePrimary, false
}
