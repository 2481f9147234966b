package steps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// localConn is a stand-in for transport.NewLocal while it is being written:
// it runs commands with /bin/sh on this machine, as another user through
// `sudo -n -u`, exactly as the real transports build their command lines.
type localConn struct{}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (localConn) Exec(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	var prog string
	switch {
	case len(cmd.Argv) > 0 && cmd.Script != "":
		return transport.Result{}, errors.New("both argv and script")
	case len(cmd.Argv) > 0:
		q := make([]string, len(cmd.Argv))
		for i, a := range cmd.Argv {
			q[i] = shq(a)
		}
		prog = strings.Join(q, " ")
	default:
		prog = "sh -c " + shq(cmd.Script)
	}
	var env []string
	for k, v := range cmd.Env {
		env = append(env, shq(k+"="+v))
	}
	sort.Strings(env)
	if len(env) > 0 {
		prog = "env -- " + strings.Join(env, " ") + " " + prog
	}
	dir := cmd.Dir
	if dir == "" && cmd.Become != "" {
		dir = "/"
	}
	line := prog
	if dir != "" {
		line = "cd " + shq(dir) + " && exec " + prog
	}
	argv := []string{"/bin/sh", "-c", line}
	if cmd.Become != "" {
		argv = append([]string{"sudo", "-n", "-u", cmd.Become, "--"}, argv...)
	}
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = "/"
	if cmd.Stdin != nil {
		c.Stdin = cmd.Stdin
	}
	var out, errb bytes.Buffer
	stdout, err := c.StdoutPipe()
	if err != nil {
		return transport.Result{}, err
	}
	stderr, err := c.StderrPipe()
	if err != nil {
		return transport.Result{}, err
	}
	if err := c.Start(); err != nil {
		return transport.Result{}, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go pump(&wg, stdout, &out, cmd.Stdout)
	go pump(&wg, stderr, &errb, cmd.Stderr)
	wg.Wait()
	err = c.Wait()
	res := transport.Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		res.ExitCode = ee.ExitCode()
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, err
}

func pump(wg *sync.WaitGroup, r io.Reader, buf *bytes.Buffer, each func(string)) {
	defer wg.Done()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		buf.WriteString(line)
		if each != nil && line != "" {
			each(strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			return
		}
	}
}

func (localConn) Upload(ctx context.Context, r io.Reader, dest string, mode fs.FileMode) error {
	tmp := dest + ".upload-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

func (localConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (localConn) Close() error { return nil }

// newConn returns the connection tests run steps on.
func newConn() transport.Conn { return localConn{} }

// target returns a Target on this machine running steps as become.
func target(become string, check, diff bool) *runbook.Target {
	return &runbook.Target{Conn: newConn(), Become: become, Check: check, Diff: diff}
}

// postgresDir returns a temporary directory owned by the postgres user that
// postgres can reach (t.TempDir's parent is root-only).
func postgresDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("become tests need root (sudo -n -u postgres); skipping")
	}
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("chown %s: %v: %s", dir, err, out)
	}
	return dir
}

// fileOwner returns the user name owning path.
func fileOwner(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("stat", "-c", "%U", path).Output()
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// snapshot returns every file under dir with its mode and content, to
// check that check mode touched nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String() + "\n")
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
			b.WriteString("\n--\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pgUID returns the postgres user's uid.
func pgUID(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}
