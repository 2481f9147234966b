package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pkg/sftp"
)

// Upload writes r to dest over SFTP: to dest.tmp-RANDOM in the same
// directory, chmod, close (with concurrent writes a failed write may only
// show up there), then posix-rename over dest, so dest is always either
// the old file or the complete new one. The temporary file is removed on
// any error.
func (c *sshConn) Upload(ctx context.Context, r io.Reader, dest string, mode fs.FileMode) error {
	client, err := c.sftpClient(ctx)
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", dest, c.cfg.Name, err)
	}
	tmp := tempName(dest)
	f, err := client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return c.sftpErr(err, "upload %s to %s: create %s", dest, c.cfg.Name, tmp)
	}
	if err := c.fill(ctx, f, r, mode); err != nil {
		client.Remove(tmp)
		return c.sftpErr(err, "upload %s to %s", dest, c.cfg.Name)
	}
	if err := client.PosixRename(tmp, dest); err != nil {
		client.Remove(tmp)
		return c.sftpErr(err, "upload %s to %s: rename %s", dest, c.cfg.Name, tmp)
	}
	return nil
}

// fill copies r into f with concurrent writes, sets its mode and closes
// it, returning the first error.
func (c *sshConn) fill(ctx context.Context, f *sftp.File, r io.Reader, mode fs.FileMode) error {
	_, err := f.ReadFromWithConcurrency(&ctxReader{ctx: ctx, r: r}, 0)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sftpClient returns the connection's SFTP client, starting it on first
// use. Starting opens a session and waits for the server's version reply
// with no deadline of its own, so it is bounded like newSession.
func (c *sshConn) sftpClient(ctx context.Context) (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	if err := c.lostErr(); err != nil {
		return nil, err
	}
	type started struct {
		client *sftp.Client
		err    error
	}
	ch := make(chan started, 1)
	go func() {
		client, err := sftp.NewClient(c.client, sftp.UseConcurrentWrites(true))
		ch <- started{client, err}
	}()
	timer := time.NewTimer(c.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case s := <-ch:
		if s.err != nil {
			return nil, c.sessionErr(s.err, "start sftp")
		}
		c.sftp = s.client
		return c.sftp, nil
	case <-timer.C:
		c.end(unreachable(nil, "%s (%s) did not start sftp within %s", c.cfg.Name, c.cfg.Addr, c.cfg.ConnectTimeout))
		return nil, c.lost
	case <-ctx.Done():
		go func() {
			if s := <-ch; s.client != nil {
				s.client.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// sftpErr wraps an SFTP error, matching ErrUnreachable when the connection
// has ended underneath it.
func (c *sshConn) sftpErr(err error, format string, args ...any) error {
	if lost := c.lostErr(); lost != nil && lost != errClosed {
		return unreachable(lost, format, args...)
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return unreachable(err, format, args...)
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// tempName returns a fresh temporary name next to dest.
func tempName(dest string) string {
	var b [8]byte
	rand.Read(b[:])
	return dest + ".tmp-" + hex.EncodeToString(b[:])
}

// ctxReader stops reading once ctx is done, which is how a cancelled
// upload stops: pkg/sftp takes no context.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the wrapped reader unless ctx is done.
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
