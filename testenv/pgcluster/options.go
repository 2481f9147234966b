package pgcluster

// DefaultBinDir is where Debian's PostgreSQL 15 packages install the server
// programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// DefaultOSUser is the OS user that owns data directories and runs servers.
const DefaultOSUser = "postgres"

// Superuser is the bootstrap superuser initdb creates: it is named after the
// OS user that ran initdb, which is always DefaultOSUser here.
const Superuser = "postgres"

// Options describe one cluster. Init uses all of them; BaseBackup uses the
// node-identity ones (Dir, Name, Port, SocketDir, ListenAddresses, BinDir,
// ExtraConf, ArchiveDir, RestoreDir) and inherits the rest from the primary.
type Options struct {
	// Dir is the cluster's own directory; it is created if missing and
	// handed to the postgres user. Required.
	Dir string
	// Name identifies the node: it becomes cluster_name and the
	// application_name a standby streams with. Defaults to the base name of
	// Dir.
	Name string
	// Port is the TCP port; 0 picks a free one on 127.0.0.1.
	Port int
	// SocketDir is the unix socket directory; empty means <Dir>/sock (or a
	// short temporary directory when that path is too long for a socket).
	SocketDir string
	// ListenAddresses is listen_addresses; empty means 127.0.0.1. The lab
	// sets it to a namespace address.
	ListenAddresses string
	// NetNS names a network namespace made by `ip netns add` (a file in
	// /run/netns) for the server to run in, so that it listens on that
	// namespace's addresses; set ListenAddresses to match. Needs root.
	// SQL from this package still works: it goes through the unix socket,
	// which lives in the file system, not in the namespace.
	NetNS string
	// Cgroup, when set, is the directory of a cgroup (v1 or v2) that every
	// program run for the cluster (initdb, pg_ctl and so the server, its
	// backends) joins before it executes, so that a CPU budget set on the
	// cgroup holds for the whole node from its first instruction. It needs
	// NetNS: the lab, which runs as root, is its only user.
	Cgroup string
	// Detached starts the server with pg_ctl so that it outlives this
	// process, as a lab brought up by one command and used by the next
	// needs. By default a server dies with the process that started it,
	// so a test binary killed by its timeout leaves none behind. Servers
	// in a network namespace are always detached.
	Detached bool
	// BinDir holds initdb, pg_ctl and friends; empty means DefaultBinDir.
	BinDir string
	// Checksums runs initdb with --data-checksums.
	Checksums bool
	// WalLogHints sets wal_log_hints = on (AllowStreaming also does, as
	// upstream's test clusters do).
	WalLogHints bool
	// GroupMode runs initdb with --allow-group-access (0750 dirs, 0640
	// files).
	GroupMode bool
	// AllowStreaming configures the cluster as a replication primary:
	// wal_level replica, WAL senders and slots, hot_standby, wal_log_hints,
	// and wal_keep_size 320MB so standbys and rewinds find their WAL.
	AllowStreaming bool
	// ArchiveDir, when set, turns on archive_mode with a cp into this
	// directory (created and handed to postgres).
	ArchiveDir string
	// RestoreDir, when set, adds a restore_command that copies from this
	// directory.
	RestoreDir string
	// ExtraConf are postgresql.conf lines appended after ours, so they win.
	ExtraConf []string
}

func (o Options) binDir() string {
	if o.BinDir == "" {
		return DefaultBinDir
	}
	return o.BinDir
}

func (o Options) listenAddresses() string {
	if o.ListenAddresses == "" {
		return "127.0.0.1"
	}
	return o.ListenAddresses
}
