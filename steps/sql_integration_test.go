package steps

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// testPassword is the superuser's password in the test cluster; it must
// never appear in an error or message.
const testPassword = "s3cret-Pw.42"

// startPostgres starts a throwaway PostgreSQL 15 cluster as the postgres
// user, listening on a free port of 127.0.0.1 with password authentication
// and a socket in its own directory, and stops it when the test ends.
func startPostgres(t *testing.T) (port int, sock string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the sql integration test runs PostgreSQL as the postgres user and needs root; skipping")
	}
	dir := postgresDir(t)
	pgdata, pwfile := filepath.Join(dir, "data"), filepath.Join(dir, "pw")
	sock = filepath.Join(dir, "sock")
	asPostgres := func(args ...string) {
		t.Helper()
		cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		cmd.Dir = "/"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	asPostgres("sh", "-c", `mkdir -m 0700 "$1" && printf '%s\n' "$2" >"$3"`, "sh", sock, testPassword, pwfile)
	asPostgres(pgBin+"/initdb", "-D", pgdata, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-N", "--no-instructions", "-E", "UTF8")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB", port, sock)
	asPostgres(pgBin+"/pg_ctl", "-D", pgdata, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-s", "start")
	t.Cleanup(func() {
		cmd := exec.Command("runuser", "-u", "postgres", "--", pgBin+"/pg_ctl", "-D", pgdata, "-m", "immediate", "-w", "-s", "stop")
		cmd.Dir = "/"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop postgres: %v\n%s", err, out)
		}
	})
	return port, sock
}

// countingConn counts the connections dialled through the host, to prove
// that sql goes through Conn.Dial.
type countingConn struct {
	transport.Conn
	dials atomic.Int32
}

func (c *countingConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.dials.Add(1)
	return c.Conn.Dial(ctx, network, addr)
}

func TestSQLIntegration(t *testing.T) {
	port, sock := startPostgres(t)
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres password=%s sslmode=disable", port, testPassword)
	url := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", testPassword, port)
	ctx := context.Background()
	yes, no := true, false

	tests := []struct {
		name        string
		sql         *SQL
		check       bool
		wantChanged bool
		wantRows    []map[string]any
		wantCount   int64
		wantErr     string
		wantMsg     string
	}{
		{name: "select with args", sql: &SQL{Conninfo: conninfo, Query: "SELECT $1::int + 1 AS n, 'x' AS s", Args: []any{41}},
			wantRows: []map[string]any{{"n": int32(42), "s": "x"}}, wantCount: 1, wantMsg: "SELECT 1"},
		{name: "unix socket", sql: &SQL{Conninfo: fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", sock, port), Query: "SELECT current_user AS u"},
			wantRows: []map[string]any{{"u": "postgres"}}, wantCount: 1},
		{name: "numeric becomes plain", sql: &SQL{Conninfo: url, Query: "SELECT 1.50::numeric AS v"},
			wantRows: []map[string]any{{"v": "1.50"}}, wantCount: 1},
		{name: "show", sql: &SQL{Conninfo: conninfo, Query: "  -- which port\nSHOW port"},
			wantRows: []map[string]any{{"port": fmt.Sprint(port)}}, wantCount: 1, wantMsg: "SHOW"},
		{name: "create under check does not run", sql: &SQL{Conninfo: conninfo, Query: "CREATE TABLE t (a int)"}, check: true,
			wantChanged: true, wantMsg: "would run CREATE statement"},
		{name: "table still absent", sql: &SQL{Conninfo: conninfo, Query: "SELECT to_regclass('t') IS NULL AS absent"},
			wantRows: []map[string]any{{"absent": true}}, wantCount: 1},
		{name: "create", sql: &SQL{Conninfo: conninfo, Query: "CREATE TABLE t (a int)"}, wantChanged: true, wantRows: []map[string]any{}},
		{name: "insert", sql: &SQL{Conninfo: conninfo, Query: "INSERT INTO t VALUES (1), (2)"}, wantChanged: true, wantRows: []map[string]any{}, wantCount: 2},
		{name: "idempotent write marked unchanged", sql: &SQL{Conninfo: conninfo, Query: "CREATE TABLE IF NOT EXISTS t (a int)", Changed: &no}, wantRows: []map[string]any{}},
		{name: "select under check runs read-only", sql: &SQL{Conninfo: conninfo, Query: "SELECT count(*) AS n FROM t"}, check: true,
			wantRows: []map[string]any{{"n": int64(2)}}, wantCount: 1},
		{name: "select with side effect marked changed", sql: &SQL{Conninfo: conninfo, Query: "SELECT pg_reload_conf() AS ok", Changed: &yes},
			wantChanged: true, wantRows: []map[string]any{{"ok": true}}, wantCount: 1},
		{name: "statement error", sql: &SQL{Conninfo: conninfo, Query: "SELEC 1"}, wantErr: "syntax error"},
		{name: "wrong password", sql: &SQL{Conninfo: strings.Replace(conninfo, testPassword, testPassword+"x", 1), Query: "SELECT 1"},
			wantErr: "password=xxxxx"},
		{name: "wrong password in URL", sql: &SQL{Conninfo: strings.Replace(url, testPassword, testPassword+"x", 1), Query: "SELECT 1"},
			wantErr: "postgres:xxxxx@"},
		{name: "nobody listening", sql: &SQL{Conninfo: fmt.Sprintf("host=127.0.0.1 port=1 user=postgres password=%s connect_timeout=5", testPassword), Query: "SELECT 1"},
			wantErr: "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.sql.Validate(); err != nil {
				t.Fatal(err)
			}
			conn := &countingConn{Conn: newConn()}
			tg := &runbook.Target{Conn: conn, Check: tt.check}
			out, err := tt.sql.Run(ctx, tg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				t.Logf("error: %v", err)
				if strings.Contains(err.Error(), testPassword) {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.Msg, testPassword) {
				t.Fatalf("message shows the password: %s", out.Msg)
			}
			if out.Changed != tt.wantChanged {
				t.Errorf("changed = %v; want %v", out.Changed, tt.wantChanged)
			}
			if tt.wantMsg != "" && !strings.Contains(out.Msg, tt.wantMsg) {
				t.Errorf("msg %q; want %q", out.Msg, tt.wantMsg)
			}
			if tt.wantRows == nil {
				if out.Facts != nil || conn.dials.Load() != 0 {
					t.Errorf("check run of a write connected (%d dials) or returned facts %v", conn.dials.Load(), out.Facts)
				}
				return
			}
			if conn.dials.Load() == 0 {
				t.Error("the connection was not dialled through the host's Conn")
			}
			if got := out.Facts["rows"]; !reflect.DeepEqual(got, tt.wantRows) {
				t.Errorf("rows %#v; want %#v", got, tt.wantRows)
			}
			if got := out.Facts["rowcount"]; got != tt.wantCount {
				t.Errorf("rowcount %v; want %d", got, tt.wantCount)
			}
		})
	}
}
