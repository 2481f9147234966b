package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// fileLock is an exclusive flock(2) on a file. The kernel drops it when the
// process dies, so a crashed run never leaves the lab locked.
type fileLock struct{ f *os.File }

// lockFile takes an exclusive lock on path, creating it (and its directory)
// if needed, and waits for it until ctx is done.
func lockFile(ctx context.Context, path string) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// unlock releases the lock.
func (l *fileLock) unlock() {
	// Closing the descriptor releases the flock.
	l.f.Close()
}

// remove deletes the lock file while the lock is held, for names that will
// not be locked again.
func (l *fileLock) remove() { os.Remove(l.f.Name()) }

// labLock serializes Up, Down and Purge of one lab name across processes.
func labLock(ctx context.Context, name string) (*fileLock, error) {
	return lockFile(ctx, labLockPath(name))
}

func labLockPath(name string) string { return filepath.Join(BaseDir, ".locks", name+".lock") }
