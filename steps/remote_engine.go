package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// defaultRemoteDir is where the engine binary goes when the inventory sets
// no remote_dir.
const defaultRemoteDir = "/var/lib/pgrunbook"

// executable finds the running pgrunbook binary; tests replace it.
var executable = os.Executable

// platforms caches each connection's uname answer: a host does not change
// its OS or architecture during a run.
var platforms sync.Map // transport.Conn -> platform

// platform is a host's GOOS and GOARCH.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// remoteEngine ships the pgrunbook binary to a host and runs its rewind or
// wal-stage there as the database OS user (DESIGN.md, "Remote engine").
type remoteEngine struct {
	t *runbook.Target
	// binary, when set, is the bastion path of the binary to ship instead
	// of this executable or its pgrunbook-<os>-<arch> sibling.
	binary string
	// remoteDir holds pgrunbook-<sha256> on the host.
	remoteDir string
}

// newRemoteEngine reads remote_dir from the host's variables.
func newRemoteEngine(t *runbook.Target, binary string) *remoteEngine {
	dir := defaultRemoteDir
	if t.Host != nil {
		if v, ok := t.Host.Vars["remote_dir"]; ok && fmt.Sprint(v) != "" {
			dir = fmt.Sprint(v)
		}
	}
	return &remoteEngine{t: t, binary: binary, remoteDir: dir}
}

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

// install uploads the binary to remote_dir/pgrunbook-<sha256> unless a
// file of that name and size is already there (the name is the content's
// hash, and uploads are atomic, so a file with the right size is whole),
// and returns its remote path and whether it uploaded.
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
	// The login user owns remote_dir and the binary: no become here.
	res, err := e.t.Conn.Exec(ctx, transport.Command{Argv: []string{"sh", "-c", ensureScript, "pgrunbook", dest, e.remoteDir}})
	if err != nil {
		return "", false, fmt.Errorf("look for %s: %w", dest, err)
	}
	switch res.ExitCode {
	case 0:
		if strings.TrimSpace(res.Stdout) == strconv.FormatInt(d.Size, 10) {
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
	return dest, true, nil
}

// workDir is a private directory (0700) of the become user on the host,
// for the report and the passfile; remove deletes it.
type workDir struct {
	e    *remoteEngine
	Path string
}

// newWorkDir creates the private directory as the become user.
func (e *remoteEngine) newWorkDir(ctx context.Context) (*workDir, error) {
	res, err := run(ctx, e.t, transport.Command{Argv: []string{"mktemp", "-d", "/tmp/pgrunbook-engine.XXXXXXXX"}})
	if err != nil {
		return nil, fmt.Errorf("create engine work directory: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("create engine work directory: %w", failure(res))
	}
	return &workDir{e: e, Path: strings.TrimSpace(res.Stdout)}, nil
}

// remove deletes the directory, passfile included, even when ctx is done.
func (w *workDir) remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := run(ctx, w.e.t, transport.Command{Argv: []string{"rm", "-rf", "--", w.Path}})
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return fmt.Errorf("remove engine work directory %s: %w", w.Path, err)
	}
	return nil
}

// writePassfile writes a libpq passfile holding password into the work
// directory, through standard input so that the password is on no
// command line, and returns its path.
func (w *workDir) writePassfile(ctx context.Context, password string) (string, error) {
	p := path.Join(w.Path, "pgpass")
	res, err := run(ctx, w.e.t, transport.Command{
		Argv:  []string{"sh", "-c", `umask 077 && cat > "$1"`, "pgrunbook", p},
		Stdin: strings.NewReader(passfileLine(password)),
	})
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return "", fmt.Errorf("write passfile %s: %w", p, err)
	}
	return p, nil
}

// readReport reads the engine's JSON report from the host.
func (w *workDir) readReport(ctx context.Context, p string) (map[string]any, error) {
	b, ok, err := readFile(ctx, w.e.t, p)
	if err != nil {
		return nil, fmt.Errorf("read engine report %s: %w", p, err)
	}
	if !ok {
		return nil, fmt.Errorf("read engine report %s: the engine wrote none", p)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("parse engine report %s: %w", p, err)
	}
	return rep, nil
}

// runStreaming runs argv as the become user, turning JSON progress lines
// on standard output into progress events and every other line into
// output events.
func (e *remoteEngine) runStreaming(ctx context.Context, argv []string) (transport.Result, error) {
	t := e.t
	cmd := transport.Command{
		Argv: argv,
		Stdout: func(line string) {
			if p, ok := progressLine(line); ok {
				if t.Progress != nil {
					t.Progress(p)
				}
				return
			}
			if t.Output != nil {
				t.Output("stdout", line)
			}
		},
		Stderr: func(line string) {
			if t.Output != nil {
				t.Output("stderr", line)
			}
		},
	}
	return run(ctx, t, cmd)
}

// progressLine decodes one --progress-json line.
func progressLine(line string) (runbook.Progress, bool) {
	if !strings.HasPrefix(line, "{") {
		return runbook.Progress{}, false
	}
	var p struct {
		Phase string `json:"phase"`
		Done  int64  `json:"done"`
		Total int64  `json:"total"`
		Unit  string `json:"unit"`
	}
	if err := json.Unmarshal([]byte(line), &p); err != nil || p.Phase == "" {
		return runbook.Progress{}, false
	}
	return runbook.Progress{Phase: p.Phase, Done: p.Done, Total: p.Total, Unit: p.Unit}, true
}

// keepReport writes a copy of a report into dir on the bastion, named by
// host, kind and time, and returns its path.
func keepReport(dir string, t *runbook.Target, kind string, rep map[string]any) (string, error) {
	if dir == "" {
		return "", nil
	}
	host := "localhost"
	if t.Host != nil && t.Host.Name != "" {
		host = t.Host.Name
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s report: %w", kind, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create report directory %s: %w", dir, err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.json", host, kind, time.Now().UTC().Format("20060102T150405.000Z")))
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s report %s: %w", kind, p, err)
	}
	return p, nil
}

// errNoEngineOutput is returned when the engine failed without a message.
var errNoEngineOutput = errors.New("the engine failed without a message")

// engineFailure turns a failed engine run into an error with its last
// error lines.
func engineFailure(what string, res transport.Result) error {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s: %w (exit status %d)", what, errNoEngineOutput, res.ExitCode)
	}
	return fmt.Errorf("%s: %s (exit status %d)", what, strings.Join(lines, "; "), res.ExitCode)
}

// engineRun is one run of a rewind program on the host: the argv it ran
// (which carries no password), its result and the report it wrote.
type engineRun struct {
	Argv   []string
	Result transport.Result
	Report map[string]any
}

// runEngine runs program (the shipped pgrunbook, or the host's pg_rewind
// when program is not "") with args, the source connection string as
// --source-server without its password, and, for pgrunbook, --progress-json
// and --report. The passfile and the report live in a private work
// directory that is removed afterwards.
func (e *remoteEngine) runEngine(ctx context.Context, program string, args []string, conninfo string) (*engineRun, error) {
	withReport := program == ""
	if withReport {
		bin, _, err := e.install(ctx)
		if err != nil {
			return nil, err
		}
		program = bin
	}
	w, err := e.newWorkDir(ctx)
	if err != nil {
		return nil, err
	}
	out, err := e.runIn(ctx, w, program, args, conninfo, withReport)
	if rerr := w.remove(); err == nil && rerr != nil {
		err = rerr
	}
	return out, err
}

func (e *remoteEngine) runIn(ctx context.Context, w *workDir, program string, args []string, conninfo string, withReport bool) (*engineRun, error) {
	argv := append([]string{program}, args...)
	if conninfo != "" {
		ci, password, err := splitPassword(conninfo)
		if err != nil {
			return nil, err
		}
		if password != "" {
			pf, err := w.writePassfile(ctx, password)
			if err != nil {
				return nil, err
			}
			ci = withPassfile(ci, pf)
		}
		argv = append(argv, "--source-server="+ci)
	}
	report := path.Join(w.Path, "report.json")
	if withReport {
		argv = append(argv, "--progress-json", "--report="+report)
	}
	out := &engineRun{Argv: argv}
	res, err := e.runStreaming(ctx, argv)
	out.Result = res
	if err != nil {
		return out, fmt.Errorf("run %s: %w", path.Base(program), err)
	}
	if withReport {
		// The engine writes its report even when it fails, as far as it got.
		rep, rerr := w.readReport(ctx, report)
		out.Report = rep
		if res.ExitCode == 0 && rerr != nil {
			return out, rerr
		}
	}
	if res.ExitCode != 0 {
		return out, engineFailure(strings.TrimSpace(path.Base(program)+" "+subcommand(args)), res)
	}
	return out, nil
}

// subcommand is the subcommand of an argument list, for messages.
func subcommand(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
