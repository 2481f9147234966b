package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// dataDir is what the PostgreSQL steps know about a data directory on the
// host after inspecting it.
type dataDir struct {
	// Path is the data directory (PGDATA).
	Path string
	// Version is PG_VERSION as written: "15", "12", "9.5".
	Version string
	// Major is the major version as a number comparable across the old and
	// new numbering: 15 for "15", 9 for "9.5" (every 9.x is before 10).
	Major int
	// BinDir holds pg_ctl and postgres for this version.
	BinDir string
}

// pgVersion reads PG_VERSION, which every data directory has from initdb
// on; it is how the steps know which file layout and which binaries apply
// without a running server.
func pgVersion(ctx context.Context, t *runbook.Target, pgdata, binDir string) (*dataDir, error) {
	if pgdata == "" {
		return nil, errors.New("pgdata is required")
	}
	b, ok, err := readFile(ctx, t, path.Join(pgdata, "PG_VERSION"))
	if err != nil {
		return nil, fmt.Errorf("read %s/PG_VERSION: %w", pgdata, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s is not a PostgreSQL data directory (no PG_VERSION): check pgdata", pgdata)
	}
	v := strings.TrimSpace(string(b))
	majorText, _, _ := strings.Cut(v, ".")
	major, err := strconv.Atoi(majorText)
	if err != nil || major < 9 {
		return nil, fmt.Errorf("%s/PG_VERSION holds %q, not a PostgreSQL version", pgdata, v)
	}
	d := &dataDir{Path: pgdata, Version: v, Major: major, BinDir: binDir}
	if d.BinDir == "" {
		d.BinDir = "/usr/lib/postgresql/" + v + "/bin"
	}
	return d, nil
}

// file returns the path of rel inside the data directory.
func (d *dataDir) file(rel string) string { return path.Join(d.Path, rel) }

// bin returns the path of a PostgreSQL program of this version.
func (d *dataDir) bin(program string) string { return path.Join(d.BinDir, program) }

// control reads global/pg_control with cat and parses it. Only majors whose
// byte layout has been checked are parsed (layout.For); for the others the
// error says so, and callers fall back to what pg_ctl tells them.
func (d *dataDir) control(ctx context.Context, t *runbook.Target) (*pgcontrol.ControlFile, error) {
	l, err := layout.For(d.Major)
	if err != nil {
		return nil, fmt.Errorf("read pg_control of %s: %w", d.Path, err)
	}
	p := d.file("global/pg_control")
	b, ok, err := readFile(ctx, t, p)
	if err != nil {
		return nil, fmt.Errorf("read pg_control %s: %w", p, err)
	}
	if !ok {
		return nil, fmt.Errorf("read pg_control %s: no such file", p)
	}
	cf, err := pgcontrol.Parse(b, l)
	if err != nil {
		// An interrupted rewind fenced pg_control; its backup is the
		// node's own (engine/markerfence.go).
		if own, ok := d.fencedControl(ctx, t, b, l); ok {
			return own, nil
		}
		return nil, fmt.Errorf("read pg_control %s: %w", p, err)
	}
	return cf, nil
}

// running asks pg_ctl status whether a live postmaster serves the data
// directory: it reads postmaster.pid and probes the process, so a pid file
// left behind by a crash is reported as not running.
func (d *dataDir) running(ctx context.Context, t *runbook.Target) (bool, error) {
	res, err := run(ctx, t, transport.Command{Argv: []string{d.bin("pg_ctl"), "status", "-D", d.Path}})
	if err != nil {
		return false, fmt.Errorf("pg_ctl status -D %s: %w", d.Path, err)
	}
	switch res.ExitCode {
	case 0:
		return true, nil
	case 3:
		return false, nil
	}
	return false, fmt.Errorf("pg_ctl status -D %s: %w", d.Path, failure(res))
}

// postmasterPID is what a running postmaster wrote into postmaster.pid.
type postmasterPID struct {
	PID  int
	Port int
	// Socket is the first unix socket directory ("" when there is none).
	Socket string
	// Listen is the first listen address ("" for none).
	Listen string
	// Status is "starting", "stopping", "ready" or "standby" (10+; empty
	// before).
	Status string
}

// pidFile reads postmaster.pid. Its lines are fixed by PostgreSQL: pid,
// data directory, start time, port, first socket directory, first listen
// address, shared memory key and (from 10) status. They are the values the
// running server really uses, including ones given on pg_ctl's -o, which
// reading the configuration files would miss.
func (d *dataDir) pidFile(ctx context.Context, t *runbook.Target) (*postmasterPID, error) {
	b, ok, err := readFile(ctx, t, d.file("postmaster.pid"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.file("postmaster.pid"), err)
	}
	if !ok {
		return nil, nil
	}
	lines := strings.Split(string(b), "\n")
	field := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	p := &postmasterPID{Socket: field(4), Listen: field(5), Status: field(7)}
	p.PID, _ = strconv.Atoi(field(0))
	p.Port, _ = strconv.Atoi(field(3))
	if p.Listen == "*" {
		p.Listen = "127.0.0.1"
	}
	return p, nil
}

// signalFiles are the files that put a server into recovery at start. The
// crash recovery of pg_stop moves them aside (see PgStop.crashRecover).
func (d *dataDir) signalFiles() []string {
	if d.Major < 12 {
		return []string{"recovery.conf"}
	}
	return []string{"standby.signal", "recovery.signal"}
}
