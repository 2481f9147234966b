package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// pgQuery runs sql on host's cluster as the superuser and returns its rows
// as "a|b" lines.
func pgQuery(t *testing.T, ctx context.Context, lab *Lab, host, sql string) string {
	t.Helper()
	rows, err := lab.PGCluster(host).Query(ctx, "postgres", sql)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	var lines []string
	for _, r := range rows {
		lines = append(lines, strings.Join(r, "|"))
	}
	return strings.Join(lines, "\n")
}

// psqlFrom runs psql as postgres inside host's namespace, with conninfo,
// and returns its output: what another host of the lab would see.
func psqlFrom(ctx context.Context, lab *Lab, host, conninfo, sql string) (string, error) {
	c := lab.PGCluster(host)
	cmd, err := c.Command(ctx, c.Bin("psql"), "-X", "-At", "-d", conninfo, "-c", sql)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// postmasterPIDs reads the pid of every database host's running server.
func postmasterPIDs(t *testing.T, lab *Lab) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, h := range lab.Hosts {
		b, err := os.ReadFile(filepath.Join(h.Dirs.DataDir, "postmaster.pid"))
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(first))
		if err != nil {
			t.Fatalf("%s: postmaster.pid: %v", h.Name, err)
		}
		pids[h.Name] = pid
	}
	return pids
}

// checkStreaming checks that each primary of the lab sees exactly its own
// cluster's standbys streaming, over the lab network (client_addr is the
// standby's lab address), and that they replayed the seed tables.
func checkStreaming(t *testing.T, ctx context.Context, lab *Lab) {
	t.Helper()
	for _, c := range lab.Clusters {
		var want []string
		for _, s := range c.Standbys {
			want = append(want, s+"|"+lab.Host(s).Address+"|streaming")
		}
		got := pgQuery(t, ctx, lab, c.Primary,
			"SELECT application_name, host(client_addr), state FROM pg_stat_replication ORDER BY application_name")
		if got != strings.Join(want, "\n") {
			t.Errorf("cluster %s: pg_stat_replication on %s:\n%s\nwant:\n%s", c.Name, c.Primary, got, strings.Join(want, "\n"))
		}
		for _, s := range c.Hosts() {
			got := pgQuery(t, ctx, lab, s, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM tbl), (SELECT count(*) FROM test), pg_is_in_recovery()")
			want := "10000|100|10|" + map[bool]string{true: "f", false: "t"}[s == c.Primary]
			if got != want {
				t.Errorf("%s: seed tables and recovery = %s, want %s", s, got, want)
			}
		}
	}
}

// checkArchive switches WAL on each primary and waits for the segment to
// reach its cluster's archive, and for no other cluster's.
func checkArchive(t *testing.T, ctx context.Context, lab *Lab) {
	t.Helper()
	for _, c := range lab.Clusters {
		seg := pgQuery(t, ctx, lab, c.Primary, "SELECT pg_walfile_name(pg_current_wal_lsn())")
		pgQuery(t, ctx, lab, c.Primary, "INSERT INTO test (note) VALUES ('archive me')")
		pgQuery(t, ctx, lab, c.Primary, "SELECT pg_switch_wal()")
		path := filepath.Join(c.ArchiveDir, seg)
		deadline := time.Now().Add(15 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster %s: segment %s never reached %s", c.Name, seg, c.ArchiveDir)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, h := range c.Hosts() {
			if got := lab.Host(h).Dirs.ArchiveDir; got != c.ArchiveDir {
				t.Errorf("%s: archive dir %s, want its cluster's %s", h, got, c.ArchiveDir)
			}
		}
	}
}

// checkRewindRole connects as the rewind role from each standby to its
// primary over the lab network, with the standby's passfile and without
// it, and checks the role's privileges.
func checkRewindRole(t *testing.T, ctx context.Context, lab *Lab) {
	t.Helper()
	for _, c := range lab.Clusters {
		for _, s := range c.Standbys {
			p := lab.Host(c.Primary)
			base := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres connect_timeout=5", p.Address, PGPort, RewindRole)
			conninfo, err := lab.RewindConninfo(s, c.Primary)
			if err != nil {
				t.Fatal(err)
			}
			// The four functions pg_rewind calls, as the rewind role.
			got, err := psqlFrom(ctx, lab, s, conninfo+" connect_timeout=5",
				"SELECT count(*) > 0, (SELECT size FROM pg_stat_file('global/pg_control', false)), length(pg_read_binary_file('global/pg_control')), length(pg_read_binary_file('global/pg_control', 0, 16, false))")
			if err != nil || got != "t|8192|8192|16" {
				t.Errorf("%s -> %s as rewind with the passfile: %v: %q", s, c.Primary, err, got)
			}
			got, err = psqlFrom(ctx, lab, s, base+" passfile=/nonexistent", "SELECT 1")
			if err == nil || !strings.Contains(got, "password") {
				t.Errorf("%s -> %s as rewind without a password: %v: %q, want refused", s, c.Primary, err, got)
			}
		}
		got := pgQuery(t, ctx, lab, c.Primary, `SELECT rolsuper, rolreplication, rolcanlogin,
			(SELECT string_agg(p.oid::regprocedure::text, ',' ORDER BY p.oid::regprocedure::text) FROM pg_proc p
			 WHERE has_function_privilege('rewind', p.oid, 'EXECUTE') AND p.proacl IS NOT NULL
			   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
			has_database_privilege('rewind', 'postgres', 'CONNECT')
			FROM pg_roles WHERE rolname = 'rewind'`)
		want := "f|t|t|pg_ls_dir(text,boolean,boolean),pg_read_binary_file(text),pg_read_binary_file(text,bigint,bigint,boolean),pg_stat_file(text,boolean)|t"
		if got != want {
			t.Errorf("cluster %s: rewind role %s, want %s", c.Name, got, want)
		}
		// The password went to the server as a SCRAM verifier only.
		logb, err := os.ReadFile(lab.Host(c.Primary).pgLogFile())
		if err != nil {
			t.Fatal(err)
		}
		if lab.rewindPassword == "" || bytes.Contains(logb, []byte(lab.rewindPassword)) {
			t.Errorf("cluster %s: the rewind password is empty or in the server log", c.Name)
		}
		// A lab opened from its record finds the password in a passfile.
		opened, err := Open(ctx, lab.Name, lab.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := opened.RewindPassword(); err != nil || pw != lab.rewindPassword {
			t.Errorf("RewindPassword of the opened lab: %v, or not the lab's", err)
		}
	}
}

// checkPGInventory loads the generated inventory and checks the
// PostgreSQL conventions.
func checkPGInventory(t *testing.T, lab *Lab) {
	t.Helper()
	inv, err := runbook.LoadInventory(lab.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	members := func(pattern string) []string {
		hs, err := inv.Match(pattern)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range hs {
			names = append(names, h.Name)
		}
		slices.Sort(names)
		return names
	}
	var primaries, standbys, db []string
	for _, c := range lab.Clusters {
		primaries = append(primaries, c.Primary)
		standbys = append(standbys, c.Standbys...)
		db = append(db, c.Hosts()...)
	}
	slices.Sort(primaries)
	slices.Sort(standbys)
	slices.Sort(db)
	for group, want := range map[string][]string{DBGroup: db, PrimariesGroup: primaries, OldPrimaryGroup: primaries, StandbysGroup: standbys} {
		if got := members(group); !slices.Equal(got, want) {
			t.Errorf("group %s = %v, want %v", group, got, want)
		}
	}
	for _, h := range lab.Hosts {
		c := lab.Cluster(h.Cluster)
		vars := inv.HostVars(inv.Hosts[h.Name], nil, nil)
		want := map[string]any{
			"pgdata": h.Dirs.DataDir, "bin_dir": PGBinDir, "pg_port": PGPort, "pg_socket_dir": h.Dirs.SocketDir,
			"archive_dir": c.ArchiveDir, "cluster": c.Name, "passfile": h.Dirs.PassFile, "rewind_user": RewindRole,
			"rewind_password": lab.rewindPassword,
		}
		if h.Name == c.Primary {
			want["new_primary"] = c.NewPrimary()
		} else if _, ok := vars["new_primary"]; ok {
			t.Errorf("%s: a standby has new_primary", h.Name)
		}
		for k, v := range want {
			if fmt.Sprint(vars[k]) != fmt.Sprint(v) {
				t.Errorf("%s: %s = %v, want %v", h.Name, k, vars[k], v)
			}
		}
	}
	if fi, err := os.Stat(lab.Inventory); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("inventory with a password: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
}

// checkPGStatus checks Status's PostgreSQL columns against the clusters.
func checkPGStatus(t *testing.T, ctx context.Context, lab *Lab) {
	t.Helper()
	st, err := lab.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, hs := range st.Hosts {
		if hs.Role == BastionName {
			if hs.Cluster != "" || hs.PGRole != "" || hs.PGUp {
				t.Errorf("bastion status %+v, want no PostgreSQL", hs)
			}
			continue
		}
		c := lab.Cluster(hs.Cluster)
		want := RoleStandby
		if c != nil && c.Primary == hs.Name {
			want = RolePrimary
		}
		if c == nil || hs.PGRole != want || !hs.PGUp {
			t.Errorf("%s status: cluster %q %s up=%v, want %s up", hs.Name, hs.Cluster, hs.PGRole, hs.PGUp, want)
		}
	}
}

// downLeavesNoServer takes the lab down and checks that every server it
// ran is gone.
func downLeavesNoServer(t *testing.T, ctx context.Context, lab *Lab) {
	t.Helper()
	pids := postmasterPIDs(t, lab)
	if err := lab.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for h, pid := range pids {
		if processAlive(pid) {
			t.Errorf("%s: postmaster %d still runs after Down", h, pid)
		}
	}
	if _, err := os.Stat(filepath.Join(lab.StateDir, "archive")); !os.IsNotExist(err) {
		t.Errorf("archive left behind after Down: %v", err)
	}
}

func TestLabPostgres(t *testing.T) {
	t.Parallel()
	// A state directory too deep for hosts/NAME/sock/.s.PGSQL.5432.
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 80))
	lab := ForTest(t, Spec{Hosts: 3, Postgres: true, StateDir: deep})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sockets := filepath.Dir(lab.Hosts[0].Dirs.SocketDir)
	if strings.HasPrefix(sockets, deep) {
		t.Fatalf("socket directory %s is in the deep state directory", lab.Hosts[0].Dirs.SocketDir)
	}
	if len(lab.Clusters) != 1 || lab.Clusters[0].Primary != "pg1" || !slices.Equal(lab.Clusters[0].Standbys, []string{"pg2", "pg3"}) {
		t.Fatalf("clusters %+v, want a: pg1 + pg2, pg3", lab.Clusters[0])
	}
	checkStreaming(t, ctx, lab)
	checkArchive(t, ctx, lab)
	checkRewindRole(t, ctx, lab)
	checkPGInventory(t, lab)
	checkPGStatus(t, ctx, lab)
	// Settings a rewind needs.
	got := pgQuery(t, ctx, lab, "pg1", "SELECT current_setting('data_checksums'), current_setting('full_page_writes'), current_setting('wal_keep_size'), current_setting('port'), current_setting('archive_mode')")
	if got != "on|on|64MB|5432|on" {
		t.Errorf("pg1 settings %s", got)
	}
	// A stopped server shows as down, with its role.
	if err := lab.PGCluster("pg3").Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	st, err := lab.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hs := st.Hosts[2]; hs.Name != "pg3" || hs.PGUp || hs.PGRole != RoleStandby {
		t.Errorf("stopped pg3 status %+v, want a standby, down", hs)
	}
	if err := lab.PGCluster("pg3").Start(ctx); err != nil {
		t.Fatal(err)
	}
	downLeavesNoServer(t, ctx, lab)
	if _, err := os.Stat(sockets); !os.IsNotExist(err) {
		t.Errorf("socket directories %s left after Down: %v", sockets, err)
	}
}

func TestLabPostgresTwoClustersBastion(t *testing.T) {
	t.Parallel()
	lab := ForTest(t, Spec{Hosts: 4, Clusters: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := []Cluster{
		{Name: "a", Primary: "pg1", Standbys: []string{"pg2"}},
		{Name: "b", Primary: "pg3", Standbys: []string{"pg4"}},
	}
	for i, c := range lab.Clusters {
		if c.Name != want[i].Name || c.Primary != want[i].Primary || !slices.Equal(c.Standbys, want[i].Standbys) {
			t.Fatalf("cluster %d = %+v, want %+v", i, c, want[i])
		}
	}
	if lab.Clusters[0].ArchiveDir == lab.Clusters[1].ArchiveDir {
		t.Fatalf("both clusters archive into %s", lab.Clusters[0].ArchiveDir)
	}
	checkStreaming(t, ctx, lab)
	checkArchive(t, ctx, lab)
	checkRewindRole(t, ctx, lab)
	checkPGInventory(t, lab)
	checkPGStatus(t, ctx, lab)
	downLeavesNoServer(t, ctx, lab)
}
