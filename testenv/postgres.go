package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// startPostgres brings up every cluster of the lab, the clusters in
// parallel: each primary is initialised, started and seeded, then each
// standby is cloned from it with pg_basebackup and streams from it over
// the lab network, as the rewind role. It returns once every standby
// streams and has replayed the seed.
func (l *Lab) startPostgres(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range l.Clusters {
		g.Go(func() error {
			if err := l.startCluster(gctx, c); err != nil {
				return fmt.Errorf("cluster %s: %w", c.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// startCluster brings up one cluster.
func (l *Lab) startCluster(ctx context.Context, c *Cluster) error {
	p := l.Host(c.Primary)
	primary, err := pgcluster.Init(ctx, l.pgOptions(p, c))
	if err != nil {
		return err
	}
	if err := l.preparePrimary(ctx, primary, p); err != nil {
		return err
	}
	for _, name := range c.Standbys {
		h := l.Host(name)
		standby, err := pgcluster.BaseBackup(ctx, primary, l.pgOptions(h, c))
		if err != nil {
			return err
		}
		if err := l.prepareNode(h); err != nil {
			return err
		}
		// pgcluster streams through the primary's unix socket, which no
		// partition can cut; over the lab network, the drill's routes do.
		if err := standby.AppendConf("primary_conninfo = " + pgcluster.QuoteConf(streamConninfo(p, h))); err != nil {
			return err
		}
		if err := standby.Start(ctx); err != nil {
			return err
		}
	}
	for _, name := range c.Standbys {
		if err := primary.WaitForCatchup(ctx, l.pgCluster(l.Host(name))); err != nil {
			return err
		}
	}
	return nil
}

// preparePrimary makes the primary ready to be cloned: pg_hba.conf lets
// the lab's hosts in with a password, the server runs, the rewind role
// and the seed tables exist.
func (l *Lab) preparePrimary(ctx context.Context, primary *pgcluster.Cluster, h *Host) error {
	if err := l.prepareNode(h); err != nil {
		return err
	}
	if err := appendHBA(primary, l.HostSubnet); err != nil {
		return err
	}
	if err := primary.Start(ctx); err != nil {
		return err
	}
	if err := createRewindRole(ctx, primary, l.rewindPassword); err != nil {
		return err
	}
	return seedTables(ctx, primary)
}

// prepareNode does what a node needs besides its data directory: its
// socket directory searchable again (pgcluster makes it 0700, and the
// executor's SQL reaches the socket through sshd as the login user) and
// its passfile.
func (l *Lab) prepareNode(h *Host) error {
	if err := os.Chmod(h.Dirs.SocketDir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", h.Dirs.SocketDir, err)
	}
	return writePassFile(h.Dirs.PassFile, l.rewindPassword)
}

// pgOptions describes the host's cluster to pgcluster: inside the host's
// namespace, on its address and loopback, port PGPort, its own socket
// directory, archiving into and restoring from the cluster's archive.
func (l *Lab) pgOptions(h *Host, c *Cluster) pgcluster.Options {
	return pgcluster.Options{
		Dir:             h.pgDir(),
		Name:            h.Name,
		Port:            PGPort,
		SocketDir:       h.Dirs.SocketDir,
		ListenAddresses: h.Address + ",127.0.0.1",
		NetNS:           h.Namespace,
		Cgroup:          h.CPUCgroup,
		// The lab outlives `pgrunbook lab up`; Down stops the servers.
		Detached:       true,
		BinDir:         PGBinDir,
		Checksums:      true,
		AllowStreaming: true,
		ArchiveDir:     c.ArchiveDir,
		RestoreDir:     c.ArchiveDir,
		ExtraConf: []string{
			"# testenv: a rewind needs full pages, and old WAL from the archive",
			"full_page_writes = on",
			"wal_keep_size = '64MB'",
			"password_encryption = 'scram-sha-256'",
		},
	}
}

// pgCluster is the pgcluster view of the host's cluster, rebuilt from the
// lab's record, so that a process that only Opened the lab can stop it or
// ask it questions.
func (l *Lab) pgCluster(h *Host) *pgcluster.Cluster {
	return &pgcluster.Cluster{
		Name:            h.Name,
		Dir:             h.pgDir(),
		DataDir:         h.Dirs.DataDir,
		SocketDir:       h.Dirs.SocketDir,
		Port:            PGPort,
		ListenAddresses: h.Address + ",127.0.0.1",
		LogFile:         h.pgLogFile(),
		BinDir:          PGBinDir,
		NetNS:           h.Namespace,
		Cgroup:          h.CPUCgroup,
		Detached:        true,
	}
}

// PGCluster returns a handle on the PostgreSQL cluster of the database
// host called name, for tests: SQL as the superuser through its unix
// socket, Stop, Start, Promote. It is nil for a lab without Postgres or an
// unknown host.
func (l *Lab) PGCluster(name string) *pgcluster.Cluster {
	h := l.Host(name)
	if !l.Postgres || h == nil || h == l.Bastion {
		return nil
	}
	return l.pgCluster(h)
}

// streamConninfo is the primary_conninfo of standby h streaming from
// primary p: over the lab network as the rewind role, its password in h's
// passfile.
func streamConninfo(p, h *Host) string {
	return fmt.Sprintf("host=%s port=%d user=%s passfile=%s application_name=%s",
		p.Address, PGPort, RewindRole, h.Dirs.PassFile, h.Name)
}

// appendHBA lets every host of the lab's subnet in with a scram password,
// for SQL and for replication; local connections stay trusted.
func appendHBA(c *pgcluster.Cluster, subnet string) error {
	path := filepath.Join(c.DataDir, "pg_hba.conf")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	lines := []string{
		"# testenv: the lab's hosts, with the rewind role's password",
		fmt.Sprintf("host all all %s scram-sha-256", subnet),
		fmt.Sprintf("host replication all %s scram-sha-256", subnet),
	}
	_, werr := f.WriteString(strings.Join(lines, "\n") + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return nil
}

// stopPostgres stops every server of the lab that runs, immediately:
// the lab's data goes away with it. Processes it misses are killed with
// the namespaces.
func (l *Lab) stopPostgres(ctx context.Context) error {
	if !l.Postgres {
		return nil
	}
	var errs []error
	for _, h := range l.Hosts {
		c := l.pgCluster(h)
		if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err != nil {
			continue
		}
		if _, err := os.Stat(netnsPath(h.Namespace)); err != nil {
			continue // no namespace to run pg_ctl in; purgeNetwork finds no server either
		}
		if running, err := c.Running(ctx); err != nil || !running {
			continue
		}
		if err := c.Stop(ctx, pgcluster.StopImmediate); err != nil {
			errs = append(errs, err)
		}
	}
	// Socket directories moved out of a deep state directory.
	if base := shortSocketBase(l.Name); slices.ContainsFunc(l.Hosts, func(h *Host) bool { return filepath.Dir(h.Dirs.SocketDir) == base }) {
		if err := os.RemoveAll(base); err != nil {
			errs = append(errs, fmt.Errorf("remove socket directories %s: %w", base, err))
		}
	}
	return errors.Join(errs...)
}
