package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Up brings up the lab spec describes and returns it once every host's
// sshd accepts connections. Leftovers of an earlier lab of the same name
// (a crashed run: namespaces, sshds, links, slots) are removed first, and
// its generated files are replaced. On failure nothing of the new lab is
// left behind.
func Up(ctx context.Context, spec Spec) (*Lab, error) {
	spec, err := spec.normalize()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("lab %s up: network namespaces need root", spec.Name)
	}
	lk, err := labLock(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if err := purgeNetwork(ctx, spec.Name); err != nil {
		return nil, fmt.Errorf("lab %s up: clean up an earlier run: %w", spec.Name, err)
	}
	if err := freeSlots(ctx, spec.Name); err != nil {
		return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
	}
	if err := prepareStateDir(spec.StateDir, spec.Name); err != nil {
		return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
	}
	if err := EnsureLoginUser(ctx); err != nil {
		return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
	}
	if err := guardLabRange(ctx); err != nil {
		return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
	}
	var hier cpuHierarchy
	if spec.HostCPU != 0 {
		if hier, err = findCPUHierarchy(); err != nil {
			return nil, fmt.Errorf("lab %s up: host CPU budgets: %w", spec.Name, err)
		}
	}
	owner := &Lab{Name: spec.Name, StateDir: spec.StateDir, OwnerPID: spec.OwnerPID}
	if spec.OwnerPID != 0 {
		if owner.OwnerStart, err = processStart(spec.OwnerPID); err != nil {
			return nil, fmt.Errorf("lab %s up: owner: %w", spec.Name, err)
		}
	}
	n := 1
	if spec.Bastion {
		n = 2
	}
	slots, err := allocateSlots(ctx, owner, n)
	if err != nil {
		return nil, err
	}
	l := layout(spec, slots)
	l.OwnerPID, l.OwnerStart = owner.OwnerPID, owner.OwnerStart
	if spec.HostCPU != 0 {
		l.HostCPU = spec.HostCPU
		l.assignCgroups(hier)
	}
	if l.Postgres {
		if l.rewindPassword, err = newPassword(); err != nil {
			return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
		}
	}
	if err := l.build(ctx); err != nil {
		if derr := l.downLocked(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, derr)
		} else if l.OwnerPID != 0 {
			lk.remove()
		}
		return nil, fmt.Errorf("lab %s up: %w", spec.Name, err)
	}
	return l, nil
}

// build makes everything of the lab after its slots are taken. lab.json
// is written first, so a crash at any later point leaves a record that
// Open and Down find.
func (l *Lab) build(ctx context.Context) error {
	if err := l.save(); err != nil {
		return err
	}
	if err := l.writeFiles(); err != nil {
		return err
	}
	if err := l.createNetwork(ctx); err != nil {
		return err
	}
	// Before any process of a host starts, so that all of them run in it.
	if err := l.createCgroups(); err != nil {
		return err
	}
	for _, h := range l.allHosts() {
		if err := startSSHD(ctx, h); err != nil {
			return err
		}
	}
	if l.Postgres {
		return l.startPostgres(ctx)
	}
	return nil
}

// prepareStateDir makes dir ready for a fresh lab called name: it exists,
// is searchable by the login user and postgres (which read and write below
// it), and holds none of an earlier lab's files. A directory holding
// anything the lab does not write, or another lab's lab.json, is refused:
// it is somebody else's.
func prepareStateDir(dir, name string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("state dir %s: %w", dir, err)
	case len(entries) > 0:
		if !isLabDir(entries) {
			return fmt.Errorf("state dir %s: not empty and not a lab's", dir)
		}
		// Open refuses a record of another lab name.
		if _, err := Open(context.Background(), name, dir); err != nil && !errors.Is(err, ErrNoLab) {
			return fmt.Errorf("state dir %s: %w", dir, err)
		}
		if err := removeStateFiles(dir); err != nil {
			return fmt.Errorf("state dir %s: remove an earlier lab's files: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	return makeSearchable(dir)
}

// makeSearchable checks that every ancestor of dir lets other users
// through (sshd reads authorized_keys as the login user; PostgreSQL runs as
// postgres). Temporary directories (t.TempDir() makes them 0700) are
// fixed with o+x; anything else is reported, not changed.
func makeSearchable(dir string) error {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("state dir %s: %w", dir, err)
		}
		if fi.Mode().Perm()&0o001 != 0 {
			continue
		}
		if !strings.HasPrefix(d, tmp+string(filepath.Separator)) {
			return fmt.Errorf("state dir %s: %s is not searchable by other users; chmod o+x it or choose another state dir", dir, d)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
			return fmt.Errorf("state dir %s: make %s searchable: %w", dir, d, err)
		}
	}
	return nil
}

// writeFiles generates the keys, known_hosts, authorized_keys, host
// directories, sshd configs, inventory and ssh_config.
func (l *Lab) writeFiles() error {
	clientPub, err := writeKeyPair(l.Key, "pgrunbook-lab-"+l.Name)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(l.statePath("authorized_keys"), []byte(strings.TrimSpace(string(sshAuthorizedKey(clientPub)))+"\n"), 0o644); err != nil {
		return err
	}
	pg, err := osUser("postgres")
	if err != nil {
		return err
	}
	login, err := osUser(LoginUser)
	if err != nil {
		return err
	}
	if err := mkdirOwned(l.RemoteDir, 0o777|os.ModeSticky, login); err != nil {
		return err
	}
	var known strings.Builder
	for _, h := range l.allHosts() {
		if err := mkdirOwned(h.Dirs.Root, 0o755, nil); err != nil {
			return err
		}
		if h != l.Bastion {
			for _, d := range []struct {
				path string
				mode os.FileMode
				own  *ids
			}{
				{h.Dirs.DataDir, 0o700, pg},
				{h.Dirs.SocketDir, 0o755, pg},
				{h.Dirs.ArchiveDir, 0o700, pg},
				{h.Dirs.RemoteDir, 0o777 | os.ModeSticky, login},
			} {
				if d.path == h.Dirs.DataDir && l.Postgres {
					continue // initdb and pg_basebackup make it, and want it absent
				}
				if err := mkdirOwned(d.path, d.mode, d.own); err != nil {
					return err
				}
			}
		}
		key, err := writeKeyPair(h.hostKey(), h.Name+"@"+l.Name)
		if err != nil {
			return err
		}
		known.WriteString(knownHostsLine(h.Address, h.Port, key) + "\n")
		if err := l.writeSSHDConfig(h); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(l.KnownHosts, []byte(known.String()), 0o644); err != nil {
		return err
	}
	inv, err := l.inventoryYAML()
	if err != nil {
		return err
	}
	invMode := os.FileMode(0o644)
	if l.Postgres {
		invMode = 0o600 // it holds rewind_password
	}
	if err := writeFileAtomic(l.Inventory, inv, invMode); err != nil {
		return err
	}
	return writeFileAtomic(l.SSHConfig, []byte(l.sshConfigText()), 0o644)
}

// ids are a user's numeric uid and gid.
type ids struct{ uid, gid int }

func osUser(name string) (*ids, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return &ids{uid, gid}, nil
}

// mkdirOwned creates path with mode, owned by own (root when nil). The
// mode is set explicitly because MkdirAll applies the umask and drops the
// sticky bit.
func mkdirOwned(path string, mode os.FileMode, own *ids) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if own != nil {
		if err := os.Chown(path, own.uid, own.gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}
