package pgcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BaseBackup copies a running primary with pg_basebackup into a new cluster
// described by opts and configures the copy as a streaming standby of
// primary (primary_conninfo with application_name = the new node's Name, and
// standby.signal). Node identity (port, sockets, cluster_name) is the new
// node's own; the rest of the configuration is inherited from the primary.
// Tablespaces with an absolute location are copied to <Dir>/tblspc/<oid>,
// since the primary's own directories are in use. The standby is not
// started.
func BaseBackup(ctx context.Context, primary *Cluster, opts Options) (*Cluster, error) {
	if opts.BinDir == "" {
		opts.BinDir = primary.BinDir
	}
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	if err := c.baseBackup(ctx, primary, opts); err != nil {
		c.discard()
		return nil, err
	}
	return c, nil
}

// baseBackup copies primary into c's data directory and makes it a standby.
func (c *Cluster) baseBackup(ctx context.Context, primary *Cluster, opts Options) error {
	args := []string{"-D", c.DataDir, "-h", primary.SocketDir, "-p", fmt.Sprint(primary.Port), "-U", Superuser,
		"-X", "stream", "-c", "fast", "--no-sync", "--no-manifest"}
	mappings, err := c.tablespaceMappings(ctx, primary)
	if err != nil {
		return err
	}
	args = append(args, mappings...)
	if _, err = c.run(ctx, c.Bin("pg_basebackup"), args...); err != nil {
		return fmt.Errorf("base backup of %s into %s: %w", primary.Name, c.Name, err)
	}
	lines := append(identityConf(c), archiveConf(opts)...)
	lines = append(lines, opts.ExtraConf...)
	if err := c.AppendConf(lines...); err != nil {
		return err
	}
	return c.follow(primary)
}

// tablespaceMappings are pg_basebackup's -T options that relocate each of
// primary's tablespaces with an absolute location into this cluster's
// directory. In-place tablespaces (relative, under pg_tblspc) need none.
func (c *Cluster) tablespaceMappings(ctx context.Context, primary *Cluster) ([]string, error) {
	rows, err := primary.Query(ctx, "postgres",
		"SELECT oid, pg_tablespace_location(oid) FROM pg_tablespace WHERE pg_tablespace_location(oid) LIKE '/%' ORDER BY oid")
	if err != nil {
		return nil, fmt.Errorf("list tablespaces of %s: %w", primary.Name, err)
	}
	// pg_basebackup splits a mapping at its first unescaped '='.
	escape := strings.NewReplacer("=", `\=`)
	var args []string
	for _, r := range rows {
		dst := filepath.Join(c.Dir, "tblspc", r[0])
		args = append(args, "-T", escape.Replace(r[1])+"="+escape.Replace(dst))
	}
	return args, nil
}

// FollowNew makes this node a streaming standby of primary: it points
// primary_conninfo at primary, creates standby.signal, and restarts the
// server if it is running. The latest timeline is followed (PostgreSQL's
// default), so a standby can follow a promoted node.
func (c *Cluster) FollowNew(ctx context.Context, primary *Cluster) error {
	if err := c.follow(primary); err != nil {
		return err
	}
	running, err := c.Running(ctx)
	if err != nil || !running {
		return err
	}
	return c.Restart(ctx)
}

// follow writes the standby settings without touching the server.
func (c *Cluster) follow(primary *Cluster) error {
	conninfo := fmt.Sprintf("host=%s port=%d user=%s application_name=%s", primary.SocketDir, primary.Port, Superuser, c.Name)
	if err := c.AppendConf("primary_conninfo = " + QuoteConf(conninfo)); err != nil {
		return err
	}
	_, fileMode := c.dataModes()
	return c.WriteFile("standby.signal", nil, fileMode)
}

// IsStandby reports whether the data directory holds standby.signal.
func (c *Cluster) IsStandby() bool {
	_, err := os.Stat(filepath.Join(c.DataDir, "standby.signal"))
	return err == nil
}

// CurrentLSN is where this node's WAL ends now: the insert position of a
// primary, the replay position of a standby.
func (c *Cluster) CurrentLSN(ctx context.Context) (LSN, error) {
	v, err := c.QueryValue(ctx, "postgres",
		"SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END")
	if err != nil {
		return 0, err
	}
	return ParseLSN(v)
}

// WaitForCatchup waits until standby, streaming from this node, has
// replayed everything this node has now.
func (c *Cluster) WaitForCatchup(ctx context.Context, standby *Cluster) error {
	target, err := c.CurrentLSN(ctx)
	if err != nil {
		return fmt.Errorf("wait for %s to catch up with %s: %w", standby.Name, c.Name, err)
	}
	sql := fmt.Sprintf("SELECT count(*) FROM pg_catalog.pg_stat_replication WHERE application_name = '%s' AND state = 'streaming' AND replay_lsn >= '%s'",
		escapeLiteral(standby.Name), target)
	return c.poll(ctx, fmt.Sprintf("wait for %s to replay %s of %s", standby.Name, target, c.Name), func(ctx context.Context) (bool, error) {
		v, err := c.QueryValue(ctx, "postgres", sql)
		return v != "" && v != "0", err
	})
}

// WaitReplay waits until this standby has replayed WAL up to lsn. Unlike
// WaitForCatchup it works whatever the standby replays from (archive or
// stream).
func (c *Cluster) WaitReplay(ctx context.Context, lsn LSN) error {
	sql := fmt.Sprintf("SELECT pg_last_wal_replay_lsn() >= '%s'", lsn)
	return c.poll(ctx, fmt.Sprintf("wait for %s to replay %s", c.Name, lsn), func(ctx context.Context) (bool, error) {
		v, err := c.QueryValue(ctx, "postgres", sql)
		return v == "t", err
	})
}
