package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// executable finds the running pgrunbook binary; tests replace it.
var executable = os.Executable

// platforms caches each connection's uname answer: a host does not change
// its OS or architecture during a run.
var platforms sync.Map // transport.Conn -> platform

// platform is a host's GOOS and GOARCH.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// hostPlatform asks the host for its OS and machine once per connection.
func hostPlatform(ctx context.Context, conn transport.Conn) (platform, error) {
	if p, ok := platforms.Load(conn); ok {
		return p.(platform), nil
	}
	res, err := conn.Exec(ctx, transport.Command{Argv: []string{"uname", "-sm"}})
	if err != nil {
		return platform{}, fmt.Errorf("uname -sm: %w", err)
	}
	if res.ExitCode != 0 {
		return platform{}, fmt.Errorf("uname -sm: %w", failure(res))
	}
	p, err := parseUname(res.Stdout)
	if err != nil {
		return platform{}, err
	}
	platforms.Store(conn, p)
	return p, nil
}

// parseUname maps `uname -sm` ("Linux x86_64") to Go's names.
func parseUname(out string) (platform, error) {
	f := strings.Fields(out)
	if len(f) != 2 {
		return platform{}, fmt.Errorf("parse uname -sm output %q: want two words", strings.TrimSpace(out))
	}
	arch := map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
		"i386": "386", "i686": "386", "armv7l": "arm", "armv6l": "arm",
		"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
	}[f[1]]
	if arch == "" {
		return platform{}, fmt.Errorf("parse uname -sm output %q: unknown machine %s", strings.TrimSpace(out), f[1])
	}
	return platform{OS: strings.ToLower(f[0]), Arch: arch}, nil
}

// localBinary picks the binary to ship for p: the explicit one, this
// executable when p is this machine's platform, else a sibling file
// pgrunbook-<os>-<arch> next to it.
func localBinary(p platform, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	self, err := executable()
	if err != nil {
		return "", fmt.Errorf("find the pgrunbook executable: %w", err)
	}
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH {
		return self, nil
	}
	sibling := filepath.Join(filepath.Dir(self), "pgrunbook-"+p.OS+"-"+p.Arch)
	if st, err := os.Stat(sibling); err == nil && st.Mode().IsRegular() {
		return sibling, nil
	}
	return "", fmt.Errorf("no pgrunbook binary for the host's platform %s: build one next to %s with "+
		"`GOOS=%s GOARCH=%s go build -o %s ./cmd/pgrunbook`", p, self, p.OS, p.Arch, sibling)
}

// fileDigest is a file's sha256 and size, cached by path, size and time.
type fileDigest struct {
	Sum  string
	Size int64
}

var digests sync.Map // "path|size|mtime" -> fileDigest

// digestFile hashes the binary to ship.
func digestFile(p string) (fileDigest, error) {
	st, err := os.Stat(p)
	if err != nil {
		return fileDigest{}, fmt.Errorf("stat engine binary %s: %w", p, err)
	}
	key := p + "|" + strconv.FormatInt(st.Size(), 10) + "|" + st.ModTime().String()
	if d, ok := digests.Load(key); ok {
		return d.(fileDigest), nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fileDigest{}, fmt.Errorf("open engine binary %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileDigest{}, fmt.Errorf("hash engine binary %s: %w", p, err)
	}
	d := fileDigest{Sum: hex.EncodeToString(h.Sum(nil)), Size: n}
	digests.Store(key, d)
	return d, nil
}

// ensureScript prints the size of $1 if it exists; otherwise it creates
// its directory with mode 0755 (world-searchable, so that the become user
// can run the binary) and exits 44.
const ensureScript = `if [ -f "$1" ]; then exec stat -c %s -- "$1"; fi; mkdir -p -m 0755 -- "$2" || exit 1; exit 44`

// installed remembers, per connection, the binaries install found or put
// in place: a rejoin runs the engine four times on a host, and looking for
// the binary again each time cost an SSH session (about 45 ms through a
// bastion) for an answer that cannot have changed in between, since
// nothing but pgrunbook writes remote_dir.
var installed sync.Map // installKey -> struct{}

// installKey names a binary on one connection's host.
type installKey struct {
	conn transport.Conn
	dest string
}

// install uploads the binary to remote_dir/pgrunbook-<sha256> unless a
// file of that name and size is already there (the name is the content's
// hash, and uploads are atomic, so a file with the right size is whole),
// and returns its remote path and whether it uploaded. It looks once per
// connection (installed).
func (e *remoteEngine) install(ctx context.Context) (string, bool, error) {
	p, err := hostPlatform(ctx, e.t.Conn)
	if err != nil {
		return "", false, err
	}
	bin, err := localBinary(p, e.binary)
	if err != nil {
		return "", false, err
	}
	d, err := digestFile(bin)
	if err != nil {
		return "", false, err
	}
	dest := path.Join(e.remoteDir, "pgrunbook-"+d.Sum)
	key := installKey{e.t.Conn, dest}
	if _, ok := installed.Load(key); ok {
		return dest, false, nil
	}
	// The login user owns remote_dir and the binary: no become here.
	res, err := e.t.Conn.Exec(ctx, transport.Command{Argv: []string{"sh", "-c", ensureScript, "pgrunbook", dest, e.remoteDir}})
	if err != nil {
		return "", false, fmt.Errorf("look for %s: %w", dest, err)
	}
	switch res.ExitCode {
	case 0:
		if strings.TrimSpace(res.Stdout) == strconv.FormatInt(d.Size, 10) {
			installed.Store(key, struct{}{})
			return dest, false, nil
		}
	case absentRC:
	default:
		return "", false, fmt.Errorf("prepare %s: %w", e.remoteDir, failure(res))
	}
	f, err := os.Open(bin)
	if err != nil {
		return "", false, fmt.Errorf("open engine binary %s: %w", bin, err)
	}
	defer f.Close()
	if err := e.t.Conn.Upload(ctx, f, dest, 0o755); err != nil {
		return "", false, fmt.Errorf("upload %s to %s: %w", bin, dest, err)
	}
	installed.Store(key, struct{}{})
	return dest, true, nil
}
