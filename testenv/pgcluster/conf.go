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

// WriteFile writes a file inside the data directory (rel is relative to
// PGDATA), owned by postgres, creating parent directories as needed with
// the data directory's own mode (0700, or 0750 with group access).
func (c *Cluster) WriteFile(rel string, data []byte, perm os.FileMode) error {
	p := filepath.Join(c.DataDir, rel)
	pu, err := postgresUser()
	if err != nil {
		return err
	}
	dirMode, _ := c.dataModes()
	if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if os.Geteuid() != pu.uid {
		for d := p; d != c.DataDir && strings.HasPrefix(d, c.DataDir); d = filepath.Dir(d) {
			if err := os.Lchown(d, pu.uid, pu.gid); err != nil {
				return fmt.Errorf("chown %s: %w", d, err)
			}
		}
	}
	return nil
}

// dataModes are the modes PostgreSQL gives new directories and files in
// this data directory: 0700/0600, or 0750/0640 when initdb allowed group
// access.
func (c *Cluster) dataModes() (dir, file os.FileMode) {
	if st, err := os.Stat(c.DataDir); err == nil && st.Mode().Perm()&0o070 != 0 {
		return 0o750, 0o640
	}
	return 0o700, 0o600
}
