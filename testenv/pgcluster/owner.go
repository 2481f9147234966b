package pgcluster

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// osUser is the resolved database OS user.
type osUser struct {
	uid, gid int
	home     string
}

var (
	lookupOnce sync.Once
	lookedUp   osUser
	lookupErr  error
)

// postgresUser resolves DefaultOSUser once per process.
func postgresUser() (osUser, error) {
	lookupOnce.Do(func() {
		u, err := user.Lookup(DefaultOSUser)
		if err != nil {
			lookupErr = fmt.Errorf("look up OS user %s: %w", DefaultOSUser, err)
			return
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			lookupErr = fmt.Errorf("parse uid of %s: %w", DefaultOSUser, err)
			return
		}
		gid, err := strconv.Atoi(u.Gid)
		if err != nil {
			lookupErr = fmt.Errorf("parse gid of %s: %w", DefaultOSUser, err)
			return
		}
		lookedUp = osUser{uid: uid, gid: gid, home: u.HomeDir}
	})
	return lookedUp, lookupErr
}

// HandOver gives path and everything under it to the postgres OS user, and
// makes every ancestor directory that postgres does not own searchable by
// others (adds o+x, never read or write) so that postgres can reach it:
// t.TempDir() makes root-only ancestors. Directories postgres owns are left
// alone, since PostgreSQL insists on exact modes for its data directory. It
// does nothing to ownership when the process already runs as postgres.
func HandOver(path string) error {
	pu, err := postgresUser()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("hand over %s: %w", path, err)
	}
	if os.Geteuid() != pu.uid {
		err = filepath.WalkDir(abs, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, pu.uid, pu.gid)
		})
		if err != nil {
			return fmt.Errorf("hand over %s to %s: %w", abs, DefaultOSUser, err)
		}
	}
	return makeSearchable(filepath.Dir(abs), pu.uid)
}

// makeSearchable adds o+x to dir and its ancestors where it is missing,
// skipping those owned by uid.
func makeSearchable(dir string, uid int) error {
	for {
		st, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("stat ancestor %s: %w", dir, err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		owned := ok && int(sys.Uid) == uid
		if !owned && st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, st.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("make %s searchable: %w", dir, err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// credential returns the process credential that runs a child as postgres,
// or nil when this process already is postgres.
func credential() (*syscall.Credential, error) {
	pu, err := postgresUser()
	if err != nil {
		return nil, err
	}
	switch os.Geteuid() {
	case pu.uid:
		return nil, nil
	case 0:
		return &syscall.Credential{Uid: uint32(pu.uid), Gid: uint32(pu.gid)}, nil
	default:
		return nil, fmt.Errorf("run as %s: this process is uid %d, neither root nor %s", DefaultOSUser, os.Geteuid(), DefaultOSUser)
	}
}

// mkdirOwned creates dir (and parents) and hands it over to postgres.
func mkdirOwned(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return HandOver(dir)
}
