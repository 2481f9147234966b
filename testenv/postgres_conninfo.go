package testenv

import (
	"fmt"
	"os"
	"strings"
)

// RewindConninfo is the conninfo with which database host from reaches
// the server of database host to as the rewind role, over the lab network:
// the form a rewind's --source-server, a standby's primary_conninfo or a
// verify step uses. The password stays in from's passfile.
func (l *Lab) RewindConninfo(from, to string) (string, error) {
	f, err := l.host(from)
	if err != nil {
		return "", err
	}
	t, err := l.host(to)
	if err != nil {
		return "", err
	}
	if !l.Postgres || f.Dirs.PassFile == "" || t.Cluster == "" {
		return "", fmt.Errorf("lab %s: rewind conninfo from %s to %s: the lab runs no PostgreSQL there", l.Name, from, to)
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres passfile=%s", t.Address, PGPort, RewindRole, f.Dirs.PassFile), nil
}

// RewindPassword returns the rewind role's password, from the first
// database host's passfile, so that it also works on a lab that was
// Opened rather than brought up by this process.
func (l *Lab) RewindPassword() (string, error) {
	if l.rewindPassword != "" {
		return l.rewindPassword, nil
	}
	if !l.Postgres || len(l.Hosts) == 0 {
		return "", fmt.Errorf("lab %s: no PostgreSQL, no rewind password", l.Name)
	}
	path := l.Hosts[0].Dirs.PassFile
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("lab %s: read rewind password: %w", l.Name, err)
	}
	// hostname:port:database:username:password
	f := strings.SplitN(strings.TrimSpace(string(b)), ":", 5)
	if len(f) != 5 || f[3] != RewindRole {
		return "", fmt.Errorf("lab %s: passfile %s: no line for role %s", l.Name, path, RewindRole)
	}
	return f[4], nil
}
