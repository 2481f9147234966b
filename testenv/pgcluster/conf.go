package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// baseConf is the configuration every cluster gets, in the spirit of
// upstream's test clusters: fast and quiet, never durable.
func baseConf(c *Cluster, opts Options) []string {
	lines := []string{
		"# pgcluster: test settings, not for production",
		"fsync = off",
		"restart_after_crash = off",
		"shared_buffers = 1MB",
		"max_connections = 20",
		"max_wal_size = 128MB",
		"min_wal_size = 32MB",
		"checkpoint_timeout = 1h",
		"log_line_prefix = '%m [%p] %q%a '",
		"log_statement = 'all'",
		"wal_retrieve_retry_interval = '500ms'",
		"wal_keep_size = 320MB",
		// New WAL segments stay sparse instead of being written full of
		// zeros: tests switch segments often, and 16MB each adds up.
		"wal_init_zero = off",
	}
	lines = append(lines, identityConf(c)...)
	if opts.WalLogHints {
		lines = append(lines, "wal_log_hints = on")
	}
	if opts.AllowStreaming {
		lines = append(lines,
			"wal_level = replica",
			"max_wal_senders = 10",
			"max_replication_slots = 10",
			"wal_log_hints = on",
			"hot_standby = on",
		)
	} else {
		lines = append(lines, "wal_level = minimal", "max_wal_senders = 0")
	}
	lines = append(lines, archiveConf(opts)...)
	return append(lines, opts.ExtraConf...)
}

// identityConf is what makes a node itself: copies of a data directory
// (base backups, rewinds) carry the other node's values, so these are
// (re)appended after every copy.
func identityConf(c *Cluster) []string {
	return []string{
		fmt.Sprintf("port = %d", c.Port),
		"unix_socket_directories = " + QuoteConf(c.SocketDir),
		"listen_addresses = " + QuoteConf(c.ListenAddresses),
		"cluster_name = " + QuoteConf(c.Name),
	}
}

func archiveConf(opts Options) []string {
	var lines []string
	if opts.ArchiveDir != "" {
		lines = append(lines,
			"archive_mode = on",
			"archive_command = "+QuoteConf(fmt.Sprintf(`cp "%%p" "%s/%%f"`, opts.ArchiveDir)),
		)
	}
	if opts.RestoreDir != "" {
		lines = append(lines, "restore_command = "+QuoteConf(fmt.Sprintf(`cp "%s/%%f" "%%p"`, opts.RestoreDir)))
	}
	return lines
}

// QuoteConf quotes a string value for postgresql.conf: single quotes, with
// embedded single quotes doubled.
func QuoteConf(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// ConfPath is the path of the cluster's postgresql.conf.
func (c *Cluster) ConfPath() string {
	return filepath.Join(c.DataDir, "postgresql.conf")
}

// AppendConf appends lines to postgresql.conf; later lines win, so this is
// also how a setting is changed. A running server needs Reload or Restart.
func (c *Cluster) AppendConf(lines ...string) error {
	f, err := os.OpenFile(c.ConfPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append to postgresql.conf of %s: %w", c.Name, err)
	}
	_, werr := f.WriteString(strings.Join(lines, "\n") + "\n")
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("append to postgresql.conf of %s: %w", c.Name, errors.Join(werr, cerr))
	}
	return nil
}
