package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/target"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

const quotedName = `tst_dir/file with 'quotes' and "double" quotes`

// testServer is one PostgreSQL 15 cluster shared by the subtests, with a
// tablespace, extra files and a non-superuser rewind role.
type testServer struct {
	c      *pgcluster.Cluster
	tsDir  string
	bigLen int
}

func startServer(t *testing.T, ctx context.Context) *testServer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("remote source integration tests run PostgreSQL as the postgres user and need root")
	}
	c, err := pgcluster.Init(ctx, pgcluster.Options{Dir: t.TempDir(), Name: "source", AllowStreaming: true,
		ExtraConf: []string{"autovacuum = off"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := &testServer{c: c, tsDir: filepath.Join(c.Dir, "ts1")}
	if err := os.Mkdir(s.tsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := pgcluster.HandOver(s.tsDir); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2*MaxChunkSize+12345)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	s.bigLen = len(big)
	for name, data := range map[string][]byte{
		"tst_dir/big.bin":         big,
		quotedName:                []byte("quoted\n"),
		"tst_dir/sub/empty":       nil,
		"tst_dir/sub/.DS_Store":   []byte("finder"),
		`tst_dir/back\slash name`: []byte("bs"),
	} {
		if err := c.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CreateRewindRole(ctx, "rewind_user"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", fmt.Sprintf("CREATE TABLESPACE ts1 LOCATION '%s'", s.tsDir)); err != nil {
		t.Fatal(err)
	}
	sql := `CREATE TABLE t (id int, pad text) ;
INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
CREATE TABLE t_ts (id int) TABLESPACE ts1;
INSERT INTO t_ts SELECT generate_series(1, 1000);
CHECKPOINT;`
	if err := c.Exec(ctx, "postgres", sql); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testServer) open(t *testing.T, ctx context.Context, user string, opts Options) *Source {
	t.Helper()
	src, err := Open(ctx, s.c.ConnString(user), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src
}

// volatile are paths a running server may create, delete or resize at any
// moment; the listing comparison ignores them.
func volatile(path string) bool {
	if filemap.IsExcluded(path) {
		return true
	}
	for _, p := range []string{"pg_wal/", "pg_stat/", "pg_logical/", "pg_xact/", "pg_multixact/", "current_logfiles"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func TestRemoteSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startServer(t, ctx)
	src := s.open(t, ctx, "rewind_user", Options{})

	t.Run("listing equals a local walk", func(t *testing.T) { testListing(t, ctx, s, src) })
	t.Run("fetch is byte-equal", func(t *testing.T) { testFetch(t, ctx, s, src) })
	t.Run("jobs 4 equals jobs 1", func(t *testing.T) { testJobs(t, ctx, s) })
	t.Run("fetch file and insert LSN", func(t *testing.T) { testFetchFile(t, ctx, s, src) })
	t.Run("round trips through a server refusing TLS", func(t *testing.T) { testRoundTrips(t, ctx, s) })
	t.Run("job connection error", func(t *testing.T) { testJobConnectError(t, ctx, s) })
	t.Run("missing grant", func(t *testing.T) { testMissingGrant(t, ctx, s) })
	t.Run("password never in errors", func(t *testing.T) { testPassword(t, ctx, s) })
	t.Run("standby source", func(t *testing.T) { testStandby(t, ctx, s) })
	t.Run("full_page_writes off", func(t *testing.T) { testFullPageWrites(t, ctx, s) })
}

func testListing(t *testing.T, ctx context.Context, s *testServer, src *Source) {
	remote := map[string]filemap.File{}
	if err := src.List(ctx, func(f filemap.File) error {
		if _, dup := remote[f.Path]; dup {
			t.Errorf("duplicate %q", f.Path)
		}
		remote[f.Path] = f
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	local := map[string]filemap.File{}
	if err := filemap.WalkDir(ctx, s.c.DataDir, func(f filemap.File) error { local[f.Path] = f; return nil }); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for p, l := range local {
		if volatile(p) {
			continue
		}
		r, ok := remote[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing remotely: "+p)
		case r.Type != l.Type || r.LinkTarget != l.LinkTarget || (l.Type == filemap.TypeRegular && r.Size != l.Size):
			diffs = append(diffs, fmt.Sprintf("%s: remote %+v, local %+v", p, r, l))
		}
	}
	for p := range remote {
		if _, ok := local[p]; !ok && !volatile(p) {
			diffs = append(diffs, "missing locally: "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("listings differ:\n%s", strings.Join(diffs, "\n"))
	}
	// The interesting entries are there, with the expected types.
	var spc string
	for p, f := range remote {
		if strings.HasPrefix(p, "pg_tblspc/") && strings.Count(p, "/") == 1 {
			spc = p
			if f.Type != filemap.TypeSymlink || f.LinkTarget != s.tsDir {
				t.Fatalf("tablespace entry %+v", f)
			}
		}
	}
	if spc == "" {
		t.Fatal("no tablespace link listed")
	}
	if _, ok := remote[spc+"/PG_15_202209061"]; !ok {
		t.Fatal("tablespace contents not listed")
	}
	for _, p := range []string{quotedName, "tst_dir/big.bin", "tst_dir/sub/empty", "global/pg_control", "pg_wal"} {
		if _, ok := remote[p]; !ok {
			t.Errorf("%q not listed", p)
		}
	}
	if f := remote["pg_wal"]; f.Type != filemap.TypeDirectory {
		t.Errorf("pg_wal listed as %v", f.Type)
	}
	if f := remote["tst_dir/big.bin"]; f.Size != int64(s.bigLen) {
		t.Errorf("big.bin size %d", f.Size)
	}
}

// fetchInto fetches ranges with src into a fresh target directory, the way
// a rewind does (whole files truncated first), and returns the directory.
func fetchInto(t *testing.T, ctx context.Context, src *Source, ranges []source.Range) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	w, err := target.Open(dir, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	made := map[string]bool{}
	for _, r := range ranges {
		if d := filepath.Dir(r.Path); !made[d] {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
			made[d] = true
		}
		if r.Whole {
			if err := w.BeginCopy(r.Path); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	var vanished []string
	err = src.Fetch(ctx, ranges, func(path string, off int64, data []byte, gone bool) error {
		if gone {
			mu.Lock()
			vanished = append(vanished, path)
			mu.Unlock()
		}
		return w.Write(path, off, data, gone)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, vanished
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func relationPath(t *testing.T, ctx context.Context, s *testServer, table string) string {
	t.Helper()
	p, err := s.c.QueryValue(ctx, "postgres", "SELECT pg_relation_filepath('"+table+"')")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testFetch(t *testing.T, ctx context.Context, s *testServer, src *Source) {
	rel := relationPath(t, ctx, s, "t")
	relTS := relationPath(t, ctx, s, "t_ts")
	relData := readFile(t, filepath.Join(s.c.DataDir, rel))
	if len(relData) < 100*8192 {
		t.Fatalf("relation only %d bytes", len(relData))
	}
	var debug []string
	src.debug = func(f string, a ...any) { debug = append(debug, fmt.Sprintf(f, a...)) }
	defer func() { src.debug = nil }()
	blocks := []int64{0, 1, 2, 7, 8, 50, 99}
	ranges := []source.Range{
		{Path: quotedName, Length: 7, Whole: true},
		{Path: "tst_dir/big.bin", Length: int64(s.bigLen), Whole: true},
		{Path: "tst_dir/sub/empty", Length: 0, Whole: true},
		{Path: relTS, Length: int64(len(readFile(t, filepath.Join(s.c.DataDir, relTS)))), Whole: true},
		{Path: "tst_dir/gone", Length: 10, Whole: true},
		{Path: "tst_dir/gone_range", Offset: 8192, Length: 8192},
	}
	for _, b := range blocks {
		ranges = append(ranges, source.Range{Path: rel, Offset: b * 8192, Length: 8192})
	}
	dir, vanished := fetchInto(t, ctx, src, ranges)
	for _, p := range []string{quotedName, "tst_dir/big.bin", "tst_dir/sub/empty", relTS} {
		if !bytes.Equal(readFile(t, filepath.Join(dir, p)), readFile(t, filepath.Join(s.c.DataDir, p))) {
			t.Errorf("%s differs from the source", p)
		}
	}
	got := readFile(t, filepath.Join(dir, rel))
	for _, b := range blocks {
		if !bytes.Equal(got[b*8192:(b+1)*8192], relData[b*8192:(b+1)*8192]) {
			t.Errorf("block %d differs", b)
		}
	}
	sort.Strings(vanished)
	if strings.Join(vanished, ",") != "tst_dir/gone,tst_dir/gone_range" {
		t.Errorf("vanished = %v", vanished)
	}
	for _, p := range []string{"tst_dir/gone", "tst_dir/gone_range"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("vanished file %s left on the target: %v", p, err)
		}
	}
	// Blocks 0-2 and 7-8 travel merged; big.bin is three chunks; everything in one query.
	joined := strings.Join(debug, "\n")
	for _, want := range []string{
		"getting 12 file chunks",
		fmt.Sprintf(`received chunk for file "%s", offset 0, size 24576`, rel),
		fmt.Sprintf(`received chunk for file "%s", offset 57344, size 16384`, rel),
		`received chunk for file "tst_dir/big.bin", offset 2097152, size 12345`,
		`received null value for chunk for file "tst_dir/gone", file has been deleted`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("debug output lacks %q:\n%s", want, joined)
		}
	}
}

func testJobs(t *testing.T, ctx context.Context, s *testServer) {
	var ranges []source.Range
	err := filemap.WalkDir(ctx, filepath.Join(s.c.DataDir), func(f filemap.File) error {
		if f.Type == filemap.TypeRegular && (strings.HasPrefix(f.Path, "base/1/") || strings.HasPrefix(f.Path, "tst_dir/")) {
			ranges = append(ranges, source.Range{Path: f.Path, Length: f.Size, Whole: true})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) < 100 {
		t.Fatalf("only %d files", len(ranges))
	}
	one, _ := fetchInto(t, ctx, s.open(t, ctx, "rewind_user", Options{Jobs: 1}), ranges)
	for _, onDemand := range []bool{false, true} {
		four4 := s.open(t, ctx, "rewind_user", Options{Jobs: 4, OnDemand: onDemand})
		if onDemand && four4.warm != nil {
			t.Fatal("OnDemand opens job connections in the background")
		}
		four, _ := fetchInto(t, ctx, four4, ranges)
		if len(four4.conns) != 4 {
			t.Fatalf("jobs 4 (on demand %v) used %d connections", onDemand, len(four4.conns))
		}
		for _, r := range ranges {
			a := readFile(t, filepath.Join(one, r.Path))
			b := readFile(t, filepath.Join(four, r.Path))
			disk := readFile(t, filepath.Join(s.c.DataDir, r.Path))
			if !bytes.Equal(a, b) || !bytes.Equal(a, disk) {
				t.Errorf("%s: jobs 1 %d bytes, jobs 4 (on demand %v) %d bytes, disk %d bytes",
					r.Path, len(a), onDemand, len(b), len(disk))
			}
		}
	}
}

func testFetchFile(t *testing.T, ctx context.Context, s *testServer, src *Source) {
	ctl, err := src.FetchFile(ctx, "global/pg_control")
	if err != nil {
		t.Fatal(err)
	}
	disk := readFile(t, filepath.Join(s.c.DataDir, "global/pg_control"))
	if len(ctl) != 8192 || !bytes.Equal(ctl[:16], disk[:16]) {
		t.Fatalf("pg_control: %d bytes", len(ctl))
	}
	q, err := src.FetchFile(ctx, quotedName)
	if err != nil || string(q) != "quoted\n" {
		t.Fatalf("quoted file = %q, %v", q, err)
	}
	if _, err := src.FetchFile(ctx, "pg_wal/00000002.history"); err == nil {
		t.Fatal("fetching a missing history file succeeded")
	}
	before, err := s.c.QueryValue(ctx, "postgres", "SELECT pg_current_wal_insert_lsn() - '0/0'")
	if err != nil {
		t.Fatal(err)
	}
	lsn, err := src.CurrentInsertLSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lsn < mustUint(t, before) {
		t.Fatalf("insert LSN %X before %s", lsn, before)
	}
	// On a primary, the WAL position is the insert location too.
	pos, err := src.WALPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pos < lsn {
		t.Fatalf("WAL position %X before the insert LSN %X", pos, lsn)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var v uint64
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func testMissingGrant(t *testing.T, ctx context.Context, s *testServer) {
	sql := `CREATE ROLE partial_user LOGIN;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO partial_user;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO partial_user;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO partial_user;`
	if err := s.c.Exec(ctx, "postgres", sql); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, s.c.ConnString("partial_user"), Options{})
	want := `source server role "partial_user" lacks EXECUTE on pg_catalog.pg_read_binary_file(text) (`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
	if strings.Contains(err.Error(), "pg_ls_dir") || strings.Contains(err.Error(), "bigint") {
		t.Fatalf("error names granted functions: %v", err)
	}
	_, err = Open(ctx, s.c.ConnString("postgres"), Options{}) // a superuser has them all
	if err != nil {
		t.Fatal(err)
	}
}

func testPassword(t *testing.T, ctx context.Context, s *testServer) {
	const password = "Sup3r-Secret'pw"
	sql := `CREATE ROLE pw_user LOGIN PASSWORD 'Sup3r-Secret''pw';
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO pw_user;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO pw_user;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO pw_user;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO pw_user;`
	if err := s.c.Exec(ctx, "postgres", sql); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(s.c.DataDir, "pg_hba.conf")
	old := readFile(t, hba)
	rule := "host all pw_user 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(rule), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	quoted := `'Sup3r-Secret\'pw'`
	base := fmt.Sprintf("host=127.0.0.1 port=%d user=pw_user sslmode=disable", s.c.Port)
	good, err := Open(ctx, base+" dbname=postgres password="+quoted, Options{})
	if err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	good.Close(ctx)
	for _, conninfo := range []string{
		base + " dbname=postgres password='wrong-" + strings.ReplaceAll(password, "'", `\'`) + "'",
		base + " dbname=no_such_db password=" + quoted,
		fmt.Sprintf("postgres://pw_user:%s@127.0.0.1:%d/no_such_db?sslmode=disable", "Sup3r-Secret%27pw", s.c.Port),
		fmt.Sprintf("host=127.0.0.1 port=1 user=pw_user password=%s connect_timeout=2", quoted),
		"host=127.0.0.1 port=notaport password=" + quoted,
	} {
		_, err := Open(ctx, conninfo, Options{})
		if err == nil {
			t.Fatalf("%s: connected", conninfo)
		}
		t.Logf("error: %v", err)
		if strings.Contains(err.Error(), "Sup3r-Secret") || strings.Contains(err.Error(), "Secret%27pw") {
			t.Errorf("password in error: %v", err)
		}
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Conninfo, "xxxxx") {
			t.Errorf("error %v does not name the redacted connection", err)
		}
	}
}

func testStandby(t *testing.T, ctx context.Context, s *testServer) {
	// pgcluster's base backups do not map tablespaces, so this last user of
	// the tablespace drops it first.
	for _, q := range []string{"DROP TABLE t_ts", "DROP TABLESPACE ts1"} {
		if err := s.c.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	standby, err := pgcluster.BaseBackup(ctx, s.c, pgcluster.Options{Dir: t.TempDir(), Name: "standby"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Destroy(context.Background()) })
	if err := standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := Open(ctx, standby.ConnString("rewind_user"), Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	n := 0
	if err := src.List(ctx, func(filemap.File) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("standby listing has %d entries", n)
	}
	if _, err := src.FetchFile(ctx, "global/pg_control"); err != nil {
		t.Fatal(err)
	}
	dir, _ := fetchInto(t, ctx, src, []source.Range{
		{Path: quotedName, Length: 7, Whole: true}, {Path: "tst_dir/big.bin", Length: int64(s.bigLen), Whole: true}})
	if !bytes.Equal(readFile(t, filepath.Join(dir, "tst_dir/big.bin")), readFile(t, filepath.Join(standby.DataDir, "tst_dir/big.bin"))) {
		t.Fatal("big.bin from the standby differs")
	}
}

func testFullPageWrites(t *testing.T, ctx context.Context, s *testServer) {
	for _, q := range []string{"ALTER SYSTEM SET full_page_writes = off", "SELECT pg_reload_conf()"} {
		if err := s.c.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		_ = s.c.Exec(context.Background(), "postgres", "ALTER SYSTEM RESET full_page_writes")
		_ = s.c.Exec(context.Background(), "postgres", "SELECT pg_reload_conf()")
	}()
	var err error
	for i := 0; i < 50; i++ { // the reload is asynchronous
		_, err = Open(ctx, s.c.ConnString("rewind_user"), Options{})
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !errors.Is(err, ErrFullPageWrites) || err.Error() != "full_page_writes must be enabled in the source server" {
		t.Fatalf("error = %v", err)
	}
}
