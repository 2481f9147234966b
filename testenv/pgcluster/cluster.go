package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Cluster is one PostgreSQL cluster: a data directory, its socket directory,
// its port and its log. The fields are read-only after Init or BaseBackup.
type Cluster struct {
	// Name is cluster_name and the application_name the node streams with.
	Name string
	// Dir is the cluster's own directory.
	Dir string
	// DataDir is PGDATA (<Dir>/data).
	DataDir string
	// SocketDir is the unix socket directory.
	SocketDir string
	// Port is the port the server listens on.
	Port int
	// ListenAddresses is listen_addresses.
	ListenAddresses string
	// LogFile is the server log (<Dir>/postgres.log).
	LogFile string
	// BinDir holds the PostgreSQL programs.
	BinDir string
	// NetNS is the network namespace the server runs in ("" for this
	// process's own).
	NetNS string
	// Cgroup is the cgroup every program run for the cluster joins (see
	// Options.Cgroup), or empty.
	Cgroup string
	// Detached servers outlive this process (see Options.Detached).
	Detached bool

	portChosen  bool   // the port was picked by us, so Start may pick another
	ownedSocket string // a socket directory we created outside Dir
}

// Bin returns the path of a PostgreSQL program of this cluster's version.
func (c *Cluster) Bin(program string) string {
	return filepath.Join(c.BinDir, program)
}

// Init creates a new cluster with initdb and writes its configuration. The
// server is not started.
func Init(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	if err := c.initdb(ctx, opts); err != nil {
		c.discard()
		return nil, err
	}
	return c, nil
}

// initdb runs initdb and writes our configuration.
func (c *Cluster) initdb(ctx context.Context, opts Options) error {
	args := []string{"-D", c.DataDir, "--auth=trust", "--no-sync", "--locale=C", "--encoding=UTF8", "--username=" + Superuser}
	if opts.Checksums {
		args = append(args, "--data-checksums")
	}
	if opts.GroupMode {
		args = append(args, "--allow-group-access")
	}
	if _, err := c.run(ctx, c.Bin("initdb"), args...); err != nil {
		return fmt.Errorf("init cluster %s: %w", c.Name, err)
	}
	return c.AppendConf(baseConf(c, opts)...)
}

// newCluster lays out the directories of a cluster that does not exist yet.
func newCluster(opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("new cluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("new cluster %s: %w", opts.Dir, err)
	}
	c := &Cluster{
		Name:            opts.Name,
		Dir:             dir,
		DataDir:         filepath.Join(dir, "data"),
		SocketDir:       opts.SocketDir,
		Port:            opts.Port,
		ListenAddresses: opts.listenAddresses(),
		LogFile:         filepath.Join(dir, "postgres.log"),
		BinDir:          opts.binDir(),
		NetNS:           opts.NetNS,
		Cgroup:          opts.Cgroup,
		Detached:        opts.Detached,
	}
	if c.Name == "" {
		c.Name = filepath.Base(dir)
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		return nil, fmt.Errorf("new cluster %s: data directory %s already exists", c.Name, c.DataDir)
	}
	if err := mkdirOwned(dir, 0o700); err != nil {
		return nil, err
	}
	if err := c.prepareSocketDir(); err != nil {
		return nil, err
	}
	if c.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		c.Port, c.portChosen = p, true
	}
	for _, d := range []string{opts.ArchiveDir, opts.RestoreDir} {
		if d == "" {
			continue
		}
		if err := mkdirOwned(d, 0o700); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// maxSocketDir keeps "<dir>/.s.PGSQL.65535" inside sun_path (108 bytes).
const maxSocketDir = 90

// prepareSocketDir creates the socket directory, falling back to a short
// temporary one when the natural path is too long for a unix socket.
func (c *Cluster) prepareSocketDir() error {
	if c.SocketDir == "" {
		c.SocketDir = filepath.Join(c.Dir, "sock")
		if len(c.SocketDir) > maxSocketDir {
			d, err := os.MkdirTemp("", "pgsock")
			if err != nil {
				return fmt.Errorf("create socket directory for %s: %w", c.Name, err)
			}
			c.SocketDir, c.ownedSocket = d, d
		}
	}
	return mkdirOwned(c.SocketDir, 0o700)
}

// discard removes what a cluster that failed to come into being made
// outside its Dir (a short socket directory); Dir itself is the caller's.
func (c *Cluster) discard() {
	if c.ownedSocket != "" {
		_ = os.RemoveAll(c.ownedSocket)
	}
}
