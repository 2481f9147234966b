package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// fakeHost is a transport.Conn that plays a remote host for the remote
// engine: uname, the binary check, mktemp, the passfile, the engine run,
// cat of the report, rm of the work directory.
type fakeHost struct {
	mu      sync.Mutex
	uname   string
	files   map[string][]byte // remote files
	cmds    []transport.Command
	stdins  map[string]string // command's first script/argv word -> stdin read
	uploads []string
	// engine answers the run of the shipped binary.
	engine func(cmd transport.Command) transport.Result
	// engineErr, when set, is the error of the engine's command (a
	// cancelled or lost session).
	engineErr error
}

func newFakeHost() *fakeHost {
	return &fakeHost{uname: "Linux x86_64\n", files: map[string][]byte{}, stdins: map[string]string{}}
}

func (h *fakeHost) Exec(_ context.Context, cmd transport.Command) (transport.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmds = append(h.cmds, cmd)
	a := cmd.Argv
	switch {
	case a[0] == "uname":
		return transport.Result{Stdout: h.uname}, nil
	case a[0] == "sh" && a[2] == ensureScript:
		if b, ok := h.files[a[4]]; ok {
			return transport.Result{Stdout: strconv.Itoa(len(b)) + "\n"}, nil
		}
		return transport.Result{ExitCode: absentRC}, nil
	case a[0] == "sh" && a[2] == engineScript:
		if h.engineErr != nil {
			if a[7] == "1" {
				b, _ := io.ReadAll(cmd.Stdin)
				h.files[a[4]+"/pgpass"] = b
			}
			return transport.Result{}, h.engineErr
		}
		return h.engineScript(cmd), nil
	case a[0] == "mktemp":
		return transport.Result{Stdout: "/tmp/pgrunbook-engine.AbCd1234\n"}, nil
	case a[0] == "sh" && strings.Contains(a[2], "umask 077"):
		b, _ := io.ReadAll(cmd.Stdin)
		h.files[a[4]] = b
		return transport.Result{}, nil
	case a[0] == "rm":
		for p := range h.files {
			if strings.HasPrefix(p, a[3]+"/") {
				delete(h.files, p)
			}
		}
		return transport.Result{}, nil
	case strings.Contains(a[0], "/pgrunbook-"):
		res := h.engine(cmd)
		for _, arg := range a {
			if p, ok := strings.CutPrefix(arg, "--report="); ok {
				h.files[p] = []byte(`{"rewind_needed": true, "divergence": {"lsn": "0/3000000", "timeline": 1}, "staged": []}`)
			}
		}
		if cmd.Stdout != nil {
			for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				cmd.Stdout(l)
			}
		}
		return res, nil
	case a[0] == "sh": // readFile's cat
		if b, ok := h.files[a[len(a)-1]]; ok {
			return transport.Result{Stdout: string(b)}, nil
		}
		return transport.Result{ExitCode: absentRC}, nil
	}
	return transport.Result{ExitCode: 127, Stderr: "fake host: unknown command " + strings.Join(a, " ")}, nil
}

// engineScript plays engineScript: the work directory $1, the passfile
// from stdin when $4 is 1, the engine run, then the mark $3 and the report
// on stdout, and the directory gone when $2 says the script made it.
func (h *fakeHost) engineScript(cmd transport.Command) transport.Result {
	a := cmd.Argv
	dir, own, mark, pw := a[4], a[5], a[6], a[7]
	if pw == "1" {
		b, _ := io.ReadAll(cmd.Stdin)
		h.files[dir+"/pgpass"] = b
	}
	res := h.engine(transport.Command{Argv: a[8:], Become: cmd.Become})
	for _, arg := range a[8:] {
		if p, ok := strings.CutPrefix(arg, "--report="+dir+"/"); ok {
			h.files[dir+"/"+p] = []byte("{\"rewind_needed\": true,\n \"divergence\": {\"lsn\": \"0/3000000\", \"timeline\": 1}, \"staged\": []}")
			res.Stdout += mark + "\n" + string(h.files[dir+"/"+p]) + "\n"
		}
	}
	if cmd.Stdout != nil {
		for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			cmd.Stdout(l)
		}
	}
	if own != "1" {
		return res
	}
	for p := range h.files {
		if strings.HasPrefix(p, dir+"/") {
			delete(h.files, p)
		}
	}
	return res
}

func (h *fakeHost) Upload(_ context.Context, r io.Reader, dest string, _ fs.FileMode) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[dest] = b
	h.uploads = append(h.uploads, dest)
	return nil
}

func (h *fakeHost) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("fake host: no network")
}

func (h *fakeHost) Close() error { return nil }

func (h *fakeHost) count(prog string) int {
	n := 0
	for _, c := range h.cmds {
		if c.Argv[0] == prog {
			n++
		}
	}
	return n
}

func TestParseUname(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "Linux x86_64\n", want: "linux/amd64"},
		{in: "Linux aarch64", want: "linux/arm64"},
		{in: "Darwin arm64", want: "darwin/arm64"},
		{in: "Linux armv7l", want: "linux/arm"},
		{in: "Linux mips", err: "unknown machine mips"},
		{in: "Linux", err: "want two words"},
	} {
		p, err := parseUname(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseUname(%q) error %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || p.String() != tt.want {
			t.Errorf("parseUname(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

// fakeExecutable makes executable() return a file in a fresh directory.
func fakeExecutable(t *testing.T, content string) string {
	t.Helper()
	self := filepath.Join(t.TempDir(), "pgrunbook")
	if err := os.WriteFile(self, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	old := executable
	executable = func() (string, error) { return self, nil }
	t.Cleanup(func() { executable = old })
	return self
}

func TestLocalBinary(t *testing.T) {
	self := fakeExecutable(t, "binary")
	other := platform{OS: "linux", Arch: "arm64"}
	if runtime.GOARCH == "arm64" {
		other.Arch = "amd64"
	}
	here := platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if got, err := localBinary(here, ""); err != nil || got != self {
		t.Errorf("same platform: %q, %v; want the executable %s", got, err, self)
	}
	if got, err := localBinary(other, "/opt/pgrunbook"); err != nil || got != "/opt/pgrunbook" {
		t.Errorf("explicit binary: %q, %v", got, err)
	}
	_, err := localBinary(other, "")
	want := "GOOS=linux GOARCH=" + other.Arch + " go build -o " + filepath.Join(filepath.Dir(self), "pgrunbook-linux-"+other.Arch)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("no sibling: error %v; want one saying %q", err, want)
	}
	sibling := filepath.Join(filepath.Dir(self), "pgrunbook-linux-"+other.Arch)
	if err := os.WriteFile(sibling, []byte("cross"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := localBinary(other, ""); err != nil || got != sibling {
		t.Errorf("sibling: %q, %v; want %s", got, err, sibling)
	}
}

func TestInstallSkipsPresentBinary(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the fake host says Linux x86_64")
	}
	fakeExecutable(t, "engine bytes")
	sum := sha256.Sum256([]byte("engine bytes"))
	want := "/srv/pgrb/pgrunbook-" + hex.EncodeToString(sum[:])
	h := newFakeHost()
	tgt := &runbook.Target{Conn: h, Host: &runbook.Host{Name: "pg1", Vars: map[string]any{"remote_dir": "/srv/pgrb"}}}
	e := newRemoteEngine(tgt, "")
	for i, wantUpload := range []bool{true, false} {
		dest, uploaded, err := e.install(context.Background())
		if err != nil || dest != want || uploaded != wantUpload {
			t.Fatalf("install %d: %q uploaded=%v %v; want %s uploaded=%v", i, dest, uploaded, err, want, wantUpload)
		}
	}
	if n := h.count("sh"); n != 1 {
		t.Errorf("the binary was looked for %d times on one connection; want 1", n)
	}
	// A file of the wrong size under the name (a foreign or damaged copy)
	// is replaced when a connection first looks.
	h.files[want] = []byte("short")
	installed.Range(func(k, _ any) bool { installed.Delete(k); return true })
	if _, uploaded, err := e.install(context.Background()); err != nil || !uploaded {
		t.Fatalf("install over a wrong-size file: uploaded=%v %v", uploaded, err)
	}
	if string(h.files[want]) != "engine bytes" || len(h.uploads) != 2 {
		t.Errorf("uploads %v, content %q", h.uploads, h.files[want])
	}
	if n := h.count("uname"); n != 1 {
		t.Errorf("uname ran %d times on one connection; want 1", n)
	}
	if newRemoteEngine(&runbook.Target{Conn: h}, "").remoteDir != defaultRemoteDir {
		t.Errorf("no remote_dir: want %s", defaultRemoteDir)
	}
}

func TestRunEngineKeepsPasswordOffTheCommandLine(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the fake host says Linux x86_64")
	}
	fakeExecutable(t, "engine")
	h := newFakeHost()
	h.engine = func(transport.Command) transport.Result {
		return transport.Result{Stdout: `{"phase":"copying","done":5,"total":10,"unit":"bytes"}` + "\nplain line\n"}
	}
	var progress []runbook.Progress
	var output []string
	tgt := &runbook.Target{Conn: h, Become: "postgres",
		Progress: func(p runbook.Progress) { progress = append(progress, p) },
		Output:   func(s, l string) { output = append(output, s+": "+l) },
	}
	for _, conninfo := range []string{
		"host=10.77.0.12 user=rewind password='s3cr:et pw' dbname=postgres",
		"postgres://rewind:s3cr%3Aet%20pw@10.77.0.12/postgres?sslmode=disable",
	} {
		h.files = map[string][]byte{}
		out, err := newRemoteEngine(tgt, "").runEngine(context.Background(), "", []string{"rewind", "--target-pgdata=/d"}, conninfo)
		if err != nil {
			t.Fatalf("%s: %v", redactConninfo(conninfo), err)
		}
		line := strings.Join(out.Argv, " ")
		if strings.Contains(line, "s3cr") || !strings.Contains(line, "passfile") {
			t.Errorf("engine command line %q carries the password or no passfile", line)
		}
		if out.Report["rewind_needed"] != true {
			t.Errorf("report %v", out.Report)
		}
		for p := range h.files {
			if strings.HasPrefix(p, "/tmp/pgrunbook-engine.") {
				t.Errorf("%s left on the host", p)
			}
		}
		var passfile string
		runs := 0
		for _, c := range h.cmds {
			if c.Become != "postgres" && c.Argv[0] != "uname" && !(c.Argv[0] == "sh" && c.Argv[2] == ensureScript) {
				t.Errorf("%v ran as %q; want postgres", c.Argv, c.Become)
			}
			if c.Become != "" {
				runs++
			}
			if c.Stdin != nil && c.Argv[0] == "sh" && c.Argv[2] == engineScript && c.Argv[7] == "1" {
				passfile = c.Argv[4] + "/pgpass"
			}
			if strings.Contains(strings.Join(c.Argv, " "), "s3cr") {
				t.Errorf("a command line carries the password: %v", c.Argv)
			}
		}
		if passfile == "" || !strings.Contains(line, passfile) && !strings.Contains(line, url.QueryEscape(passfile)) {
			t.Errorf("passfile %q not written or not used in %q", passfile, line)
		}
		// The work directory, the passfile, the run and the report are
		// one command on the host.
		if runs != 1 {
			t.Errorf("%d commands ran as postgres; want 1", runs)
		}
		h.cmds = nil
	}
	if len(progress) != 2 || progress[0] != (runbook.Progress{Phase: "copying", Done: 5, Total: 10, Unit: "bytes"}) {
		t.Errorf("progress %+v", progress)
	}
	if len(output) != 2 || output[0] != "stdout: plain line" {
		t.Errorf("output %q", output)
	}
}

// TestRunEngineCancelledRemovesWorkDir checks that an engine run that
// did not end normally (cancelled, connection cut) still removes its work
// directory and the passfile in it, with a command of its own.
func TestRunEngineCancelledRemovesWorkDir(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the fake host says Linux x86_64")
	}
	fakeExecutable(t, "engine")
	h := newFakeHost()
	h.engineErr = context.Canceled
	tgt := &runbook.Target{Conn: h, Become: "postgres"}
	_, err := newRemoteEngine(tgt, "").runEngine(context.Background(), "", []string{"rewind"}, "host=a password=pw")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("runEngine: %v, want the cancellation", err)
	}
	for p := range h.files {
		if strings.HasPrefix(p, "/tmp/pgrunbook-engine.") {
			t.Errorf("%s left on the host", p)
		}
	}
	if n := h.count("rm"); n != 1 {
		t.Errorf("rm ran %d times; want 1", n)
	}
}

func TestSplitPassword(t *testing.T) {
	for _, tt := range []struct {
		in, rest, pw string
	}{
		{"host=a user=u password=pw dbname=x", "host=a user=u dbname=x", "pw"},
		{"host=a password='p w\\'x' port=5432", "host=a port=5432", "p w'x"},
		{"host=a user=u", "host=a user=u", ""},
		{"postgresql://u:pw@a:5432/db?sslmode=disable", "postgresql://u@a:5432/db?sslmode=disable", "pw"},
		{"postgres://u@a/db?password=pw", "postgres://u@a/db", "pw"},
	} {
		rest, pw, err := splitPassword(tt.in)
		if err != nil || rest != tt.rest || pw != tt.pw {
			t.Errorf("splitPassword(%q) = %q, %q, %v; want %q, %q", tt.in, rest, pw, err, tt.rest, tt.pw)
		}
	}
	if got := passfileLine(`a:b\c`); got != `*:*:*:*:a\:b\\c`+"\n" {
		t.Errorf("passfileLine = %q", got)
	}
	if got := withPassfile("host=a", "/t/p f"); got != `host=a passfile='/t/p f'` {
		t.Errorf("withPassfile = %q", got)
	}
	if got := withPassfile("postgres://u@a/db?x=1", "/t/p"); got != "postgres://u@a/db?x=1&passfile=%2Ft%2Fp" {
		t.Errorf("withPassfile URI = %q", got)
	}
}

func TestParseDryRun(t *testing.T) {
	for _, tt := range []struct {
		name, out string
		needed    any
		div       string
		err       bool
	}{
		{"15 diverged", "pg_rewind: servers diverged at WAL location 0/4002E80 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/3000060 on timeline 1\npg_rewind: Done!", true, "servers diverged at 0/4002E80 on timeline 1", false},
		{"9.5 diverged", "servers diverged at WAL position 0/8BF34E0 on timeline 1\nNeed to copy 1755 MB", true, "servers diverged at 0/8BF34E0 on timeline 1", false},
		{"no rewind", "pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required", false, "", false},
		{"neither", "pg_rewind: connected to server", nil, "", true},
	} {
		rep, err := parseDryRun(tt.out)
		if tt.err {
			if err == nil {
				t.Errorf("%s: no error", tt.name)
			}
			continue
		}
		if err != nil || rep["rewind_needed"] != tt.needed || divergenceText(rep) != tt.div {
			t.Errorf("%s: %v %v; want needed=%v %q", tt.name, rep, err, tt.needed, tt.div)
		}
	}
}
