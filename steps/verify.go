package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/runbook"
)

var _ runbook.Validator = (*Verify)(nil)

// Verify proves that a rejoined node is a healthy standby of the new
// primary and holds the same data. It changes nothing (it is never
// "changed"), and it reports every check, failed or not.
//
//	verify:
//	  pgdata: /var/lib/postgresql/15/main
//	  primary: "host=10.77.0.12 port=5432 user=postgres dbname=postgres"
//	  split_brain: [{kind: table, name: public.t2}, {kind: view, name: public.v2}]
//
// Both servers are reached from the bastion with pgx, dialled through the
// node's connection (an SSH channel), so 127.0.0.1 in local is the node
// itself and the primary is reached by the address the node uses to stream
// from it. The checks, in order:
//
//   - the primary is not in recovery, and the node is;
//   - the node's WAL receiver is streaming, from the primary's host and
//     port, on the primary's timeline;
//   - the node replays up to the primary's flushed WAL position taken now
//     (after a tiny logical message on the primary, so an idle primary
//     still proves replay moves; skipped under --check);
//   - each split-brain object is absent on the node;
//   - both have the same connectable databases (template0 aside) and the
//     same user tables in each;
//   - every such table has the same rows on both sides:
//     `SELECT coalesce(sum(hashtext(t::text)), 0), count(*)` over the
//     table, the seed's method. Unlogged and temporary tables are skipped,
//     since a standby cannot read them. The comparison is exact only while
//     the primary is quiet.
//
// Each wait (receiver, replay) is bounded by timeout. Under --check the
// checks look once without waiting, and failures are reported in the
// message rather than failing the step, because the steps before verify
// changed nothing. The checks are the fact "checks" (a list of name, ok,
// detail) and live output lines ("ok    ..." or "FAIL  ...").
type Verify struct {
	// PGData is the node's data directory, used to find its port when
	// Local is not given.
	PGData string `yaml:"pgdata"`
	// Primary is the conninfo of the new primary.
	Primary string `yaml:"primary"`
	// Local is the conninfo of this node; default host=127.0.0.1
	// port=<the running server's port> user=postgres dbname=postgres.
	Local string `yaml:"local"`
	// Timeout bounds each wait: for the WAL receiver to stream and for
	// replay to catch up (default 60s). Queries are bounded only by the
	// run, since checksumming big tables takes what it takes.
	Timeout Duration `yaml:"timeout"`
	// Tables selects the tables whose content is compared: all (default),
	// none, or a list of [db:]schema.table names (db defaults to Local's).
	Tables TableSelection `yaml:"tables"`
	// SplitBrain lists objects written on the old primary during the split
	// brain, which the rewind must have removed.
	SplitBrain []SplitBrainObject `yaml:"split_brain"`
}

// SplitBrainObject names one object that must be absent on the node.
type SplitBrainObject struct {
	// Kind is table, view or function.
	Kind string `yaml:"kind"`
	// Name is schema.name, or a name found through the search path.
	Name string `yaml:"name"`
	// DB is the database (default Local's).
	DB string `yaml:"db"`
}

// check is the result of one verification.
type check struct {
	Name   string
	OK     bool
	Detail string
}

// summary is the check's name and detail.
func (c check) summary() string {
	if c.Detail == "" {
		return c.Name
	}
	return c.Name + ": " + c.Detail
}

// line is the check as an output line, its verdict first.
func (c check) line() string {
	if c.OK {
		return "ok    " + c.summary()
	}
	return "FAIL  " + c.summary()
}

// Validate checks the required parameters and the split-brain list.
func (v *Verify) Validate() error {
	if v.Primary == "" {
		return errors.New("primary (conninfo of the new primary) is required")
	}
	if v.PGData == "" && v.Local == "" {
		return errors.New("pgdata or local is required")
	}
	for _, o := range v.SplitBrain {
		switch o.Kind {
		case "table", "view", "function":
		default:
			return fmt.Errorf("split_brain %s: kind %q must be table, view or function", o.Name, o.Kind)
		}
		if o.Name == "" {
			return errors.New("split_brain: every object needs a name")
		}
	}
	return nil
}

func (v *Verify) timeout() time.Duration {
	if v.Timeout <= 0 {
		return 60 * time.Second
	}
	return time.Duration(v.Timeout)
}

// verifyRun is one run of the checks.
type verifyRun struct {
	v       *Verify
	t       *runbook.Target
	checks  []check
	local   string
	primary *pgx.Conn
	node    *pgx.Conn
	// conns caches connections to other databases, keyed by side and db.
	conns map[string]*pgx.Conn
}

// Run runs every check and fails listing every failed one.
func (v *Verify) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := v.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("verify: %w", err)
	}
	r := &verifyRun{v: v, t: t, conns: map[string]*pgx.Conn{}}
	defer r.close(ctx)
	r.run(ctx)

	var failed []string
	facts := make([]map[string]any, len(r.checks))
	for i, c := range r.checks {
		facts[i] = map[string]any{"name": c.Name, "ok": c.OK, "detail": c.Detail}
		if !c.OK {
			failed = append(failed, c.summary())
		}
	}
	// ok lets a playbook run verify first, under failed_when: "false", and
	// skip the disruptive steps (pg_stop, rewind) on a node that is already
	// a healthy standby, so that a second run changes nothing.
	out := runbook.Outcome{Facts: map[string]any{"checks": facts, "ok": len(failed) == 0}}
	if len(failed) > 0 && t.Check {
		// Under --check the steps before this one changed nothing, so a
		// node that is not rejoined yet is expected: report, don't fail.
		out.Msg = fmt.Sprintf("%d of %d checks fail now (under --check the earlier steps made no change): %s", len(failed), len(r.checks), strings.Join(failed, "; "))
		return out, nil
	}
	if len(failed) > 0 {
		out.Msg = fmt.Sprintf("%d of %d checks failed", len(failed), len(r.checks))
		return out, fmt.Errorf("verify %s: %d of %d checks failed: %s", v.subject(), len(failed), len(r.checks), strings.Join(failed, "; "))
	}
	out.Msg = fmt.Sprintf("all %d checks passed", len(r.checks))
	return out, nil
}

func (v *Verify) subject() string {
	if v.PGData != "" {
		return v.PGData
	}
	return redactConninfo(v.Local)
}

// add records a check and shows it live.
func (r *verifyRun) add(name string, ok bool, detail string) {
	c := check{Name: name, OK: ok, Detail: detail}
	r.checks = append(r.checks, c)
	if r.t.Output != nil {
		r.t.Output("stdout", c.line())
	}
}

func (r *verifyRun) run(ctx context.Context) {
	var err error
	if r.local, err = r.localConninfo(ctx); err != nil {
		r.add("connect to the node", false, err.Error())
		return
	}
	r.primary, err = r.connect(ctx, r.v.Primary, "")
	if err != nil {
		r.add("connect to the primary", false, err.Error())
	}
	r.node, err = r.connect(ctx, r.local, "")
	if err != nil {
		r.add("connect to the node", false, err.Error())
	}
	if r.primary == nil || r.node == nil {
		return
	}
	r.checkRoles(ctx)
	tli, ok := r.primaryTimeline(ctx)
	if ok {
		r.checkReceiver(ctx, tli)
	}
	r.checkReplay(ctx)
	r.checkSplitBrain(ctx)
	r.checkTables(ctx)
}

// localConninfo is Local, or the node's own address built from the port
// in postmaster.pid.
func (r *verifyRun) localConninfo(ctx context.Context) (string, error) {
	if r.v.Local != "" {
		return r.v.Local, nil
	}
	d := &dataDir{Path: r.v.PGData}
	pid, err := d.pidFile(ctx, r.t)
	if err != nil {
		return "", err
	}
	if pid == nil || pid.Port == 0 {
		return "", fmt.Errorf("no postmaster.pid in %s: the server is not running (run pg_start first), or give local", r.v.PGData)
	}
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", pid.Port), nil
}

// connect opens a pgx connection dialled through the node; db overrides
// the conninfo's database. Errors never carry a password.
func (r *verifyRun) connect(ctx context.Context, conninfo, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(conninfo)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redactConninfo(conninfo), redact(err, conninfo, nil))
	}
	if db != "" {
		cfg.Database = db
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return r.t.Conn.Dial(ctx, network, addr)
	}
	cfg.LookupFunc = func(ctx context.Context, host string) ([]string, error) { return []string{host}, nil }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s database %s: %w", redactConninfo(conninfo), cfg.Database, redact(err, conninfo, cfg))
	}
	return conn, nil
}

// connFor returns a connection of one side (primary or node) to db,
// reusing the main connection for its own database.
func (r *verifyRun) connFor(ctx context.Context, primary bool, db string) (*pgx.Conn, error) {
	main, conninfo, side := r.node, r.local, "node"
	if primary {
		main, conninfo, side = r.primary, r.v.Primary, "primary"
	}
	if db == "" || db == main.Config().Database {
		return main, nil
	}
	key := side + "\x00" + db
	if c, ok := r.conns[key]; ok {
		return c, nil
	}
	c, err := r.connect(ctx, conninfo, db)
	if err != nil {
		return nil, err
	}
	r.conns[key] = c
	return c, nil
}

func (r *verifyRun) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, c := range r.conns {
		c.Close(ctx)
	}
	for _, c := range []*pgx.Conn{r.primary, r.node} {
		if c != nil {
			c.Close(ctx)
		}
	}
}

// checkRoles checks that the primary is a primary and the node a standby.
func (r *verifyRun) checkRoles(ctx context.Context) {
	for _, side := range []struct {
		name string
		conn *pgx.Conn
		want bool
	}{{"primary is not in recovery", r.primary, false}, {"node is in recovery", r.node, true}} {
		var in bool
		if err := side.conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&in); err != nil {
			r.add(side.name, false, "query pg_is_in_recovery(): "+r.clean(err))
			continue
		}
		detail := ""
		if in != side.want {
			detail = "pg_is_in_recovery() is " + strconv.FormatBool(in)
		}
		r.add(side.name, in == side.want, detail)
	}
}

// primaryTimeline is the timeline the primary writes on now. A promoted
// primary's last checkpoint may still be on the old timeline for a moment,
// so the timeline is read from the name of its current WAL file instead.
func (r *verifyRun) primaryTimeline(ctx context.Context) (int64, bool) {
	var tli int64
	err := r.primary.QueryRow(ctx, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint").Scan(&tli)
	if err != nil {
		r.add("primary timeline", false, r.clean(err))
		return 0, false
	}
	return tli, true
}

// clean turns a query error into a check detail without secrets.
func (r *verifyRun) clean(err error) string {
	err = redact(err, r.v.Primary, nil)
	return redact(err, r.local, nil).Error()
}

// poll runs probe until it succeeds or the timeout passes, and returns its
// last detail. The probe's own queries use the run's context, so that a
// slow last probe is not cut off midway.
func (r *verifyRun) poll(ctx context.Context, probe func() (bool, string)) (bool, string) {
	wait := r.v.timeout()
	if r.t.Check {
		// Nothing was started or changed: one look is the answer.
		wait = 0
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		ok, detail := probe()
		if ok {
			return true, detail
		}
		select {
		case <-ctx.Done():
			return false, detail
		case <-time.After(200 * time.Millisecond):
		}
	}
}
