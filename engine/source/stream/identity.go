package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Identity is what the server says about the cluster it serves, so that
// the client can check it is the one its SQL connection reaches.
type Identity struct {
	// DataDir is the server's PGDATA, for messages.
	DataDir string
	// SystemIdentifier is pg_control's system identifier.
	SystemIdentifier uint64
	// Running is true when PGDATA has a postmaster.pid: a postmaster
	// runs (or crashed without removing it).
	Running bool
	// StartTime is the postmaster's start time from postmaster.pid, in
	// whole seconds; PostgreSQL takes pg_postmaster_start_time() a moment
	// later in the postmaster's start.
	StartTime time.Time
	// Port is the port from postmaster.pid.
	Port int
}

// ReadIdentity reads the identity of the cluster in dataDir: the system
// identifier from global/pg_control (its first field, in the machine's
// byte order, as PostgreSQL writes it) and the start time and port from
// postmaster.pid (lines 3 and 4) if there is one.
func ReadIdentity(dataDir string) (Identity, error) {
	id := Identity{DataDir: dataDir}
	ctl := filepath.Join(dataDir, "global", "pg_control")
	f, err := os.Open(ctl)
	if err != nil {
		return id, fmt.Errorf("read pg_control %s: %w", ctl, err)
	}
	var head [8]byte
	_, err = f.ReadAt(head[:], 0)
	f.Close()
	if err != nil {
		return id, fmt.Errorf("read pg_control %s: %w", ctl, err)
	}
	id.SystemIdentifier = binary.NativeEndian.Uint64(head[:])
	pidPath := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return id, nil
	}
	if err != nil {
		return id, fmt.Errorf("read postmaster.pid %s: %w", pidPath, err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return id, fmt.Errorf("read postmaster.pid %s: %d lines, want at least 4", pidPath, len(lines))
	}
	start, err := strconv.ParseInt(strings.TrimSpace(lines[2]), 10, 64)
	if err != nil {
		return id, fmt.Errorf("read postmaster.pid %s: start time %q: %w", pidPath, lines[2], err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return id, fmt.Errorf("read postmaster.pid %s: port %q: %w", pidPath, lines[3], err)
	}
	id.Running, id.StartTime, id.Port = true, time.Unix(start, 0), port
	return id, nil
}

// encodeIdentity is the identity frame's payload.
func encodeIdentity(id Identity) []byte {
	e := encoder{}
	e.u16(Version)
	e.u64(id.SystemIdentifier)
	var running byte
	if id.Running {
		running = 1
	}
	e.u8(running)
	e.i64(id.StartTime.Unix())
	e.u32(uint32(id.Port))
	e.str16(id.DataDir)
	return e.b
}

// decodeIdentity reads an identity frame's payload.
func decodeIdentity(p []byte) (Identity, error) {
	d := decoder{b: p}
	var id Identity
	if v := d.u16(); !d.bad && v != Version {
		return id, fmt.Errorf("server speaks protocol version %d, this client %d (run the same pgrunbook on both sides)", v, Version)
	}
	id.SystemIdentifier = d.u64()
	id.Running = d.u8() == 1
	id.StartTime = time.Unix(d.i64(), 0)
	id.Port = int(d.u32())
	id.DataDir = d.str16()
	if !id.Running {
		id.StartTime = time.Time{}
	}
	return id, d.done("identity")
}
