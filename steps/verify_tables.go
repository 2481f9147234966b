package steps

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

// TableSelection is verify's tables parameter: all (the default), none, or
// a list of table names.
type TableSelection struct {
	// None turns the content comparison off.
	None bool
	// Names, when set, are the only tables compared, each
	// [db:]schema.table or [db:]table (schema public).
	Names []string
}

// UnmarshalYAML reads "all", "none" or a list of names.
func (s *TableSelection) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "all", "":
			*s = TableSelection{}
		case "none":
			*s = TableSelection{None: true}
		default:
			return fmt.Errorf("tables must be all, none or a list of [db:]schema.table names, not %q", n.Value)
		}
		return nil
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		*s = TableSelection{Names: names}
		return nil
	}
	return fmt.Errorf("tables must be all, none or a list of [db:]schema.table names")
}

// qualifiedTable is a table in one database.
type qualifiedTable struct {
	DB, Schema, Name string
}

func (q qualifiedTable) String() string { return q.DB + ":" + q.Schema + "." + q.Name }

// parseTableName reads [db:]schema.table, defaulting db and the schema.
func parseTableName(s, defaultDB string) qualifiedTable {
	q := qualifiedTable{DB: defaultDB, Schema: "public"}
	if db, rest, ok := strings.Cut(s, ":"); ok {
		q.DB, s = db, rest
	}
	if schema, name, ok := strings.Cut(s, "."); ok {
		q.Schema, q.Name = schema, name
	} else {
		q.Name = s
	}
	return q
}

// checkSplitBrain checks that each object written on the old primary
// during the split brain is gone from the node.
func (r *verifyRun) checkSplitBrain(ctx context.Context) {
	for _, o := range r.v.SplitBrain {
		name := fmt.Sprintf("split-brain %s %s absent", o.Kind, o.Name)
		if o.DB != "" {
			name += " in database " + o.DB
		}
		conn, err := r.connFor(ctx, false, o.DB)
		if err != nil {
			r.add(name, false, err.Error())
			continue
		}
		var n int
		err = conn.QueryRow(ctx, splitBrainQuery(o.Kind), o.Name).Scan(&n)
		switch {
		case err != nil:
			r.add(name, false, "look it up: "+r.clean(err))
		case n > 0:
			r.add(name, false, "it still exists on the node")
		default:
			r.add(name, true, "")
		}
	}
}

// splitBrainQuery counts the objects of kind named $1 (schema-qualified or
// found through the search path).
func splitBrainQuery(kind string) string {
	switch kind {
	case "function":
		return `SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE CASE WHEN strpos($1, '.') > 0
				THEN n.nspname = split_part($1, '.', 1) AND p.proname = split_part($1, '.', 2)
				ELSE p.proname = $1 AND pg_function_is_visible(p.oid) END`
	case "view":
		return `SELECT count(*)::int FROM pg_class WHERE oid = to_regclass($1) AND relkind IN ('v', 'm')`
	}
	return `SELECT count(*)::int FROM pg_class WHERE oid = to_regclass($1) AND relkind IN ('r', 'p', 'f')`
}

// userTablesQuery lists the tables a standby can read (permanent ones),
// outside the system schemas.
const userTablesQuery = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
	AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
	ORDER BY 1, 2`

// checkTables compares the content of the selected tables on both sides.
func (r *verifyRun) checkTables(ctx context.Context) {
	if r.v.Tables.None {
		return
	}
	tables, ok := r.selectTables(ctx)
	if !ok {
		return
	}
	for _, q := range tables {
		r.compareTable(ctx, q)
	}
}

// selectTables lists the tables to compare: the given names, or every
// user table of every connectable database of the primary, after checking
// that the node has the same databases and tables.
func (r *verifyRun) selectTables(ctx context.Context) ([]qualifiedTable, bool) {
	if len(r.v.Tables.Names) > 0 {
		var out []qualifiedTable
		for _, n := range r.v.Tables.Names {
			out = append(out, parseTableName(n, r.node.Config().Database))
		}
		return out, true
	}
	const dbs = "SELECT datname FROM pg_database WHERE datallowconn AND datname <> 'template0' ORDER BY 1"
	pdbs, perr := listRows(ctx, r.primary, dbs)
	ndbs, nerr := listRows(ctx, r.node, dbs)
	if perr != nil || nerr != nil {
		r.add("same databases", false, "list databases: "+r.clean(firstErr(perr, nerr)))
		return nil, false
	}
	r.add("same databases", sameList(pdbs, ndbs), diffLists("database", pdbs, ndbs))
	var out []qualifiedTable
	for _, db := range pdbs {
		pt, perr := r.tablesOf(ctx, true, db)
		nt, nerr := r.tablesOf(ctx, false, db)
		name := "same tables in database " + db
		if perr != nil || nerr != nil {
			r.add(name, false, firstErr(perr, nerr).Error())
			continue
		}
		r.add(name, sameList(pt, nt), diffLists("table", pt, nt))
		for _, t := range pt {
			schema, table, _ := strings.Cut(t, "\x00")
			out = append(out, qualifiedTable{DB: db, Schema: schema, Name: table})
		}
	}
	return out, true
}

func (r *verifyRun) tablesOf(ctx context.Context, primary bool, db string) ([]string, error) {
	conn, err := r.connFor(ctx, primary, db)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, userTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables: %s", r.clean(err))
	}
	var out []string
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			return nil, fmt.Errorf("list tables: %s", r.clean(err))
		}
		out = append(out, schema+"\x00"+name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %s", r.clean(err))
	}
	return out, nil
}

// compareTable compares one table's checksum and row count on both sides.
func (r *verifyRun) compareTable(ctx context.Context, q qualifiedTable) {
	name := "same content " + q.String()
	query := "SELECT coalesce(sum(hashtext(t::text)), 0)::text || ' / ' || count(*) || ' rows' FROM " +
		pgx.Identifier{q.Schema, q.Name}.Sanitize() + " t"
	var sums [2]string
	for i, primary := range []bool{true, false} {
		conn, err := r.connFor(ctx, primary, q.DB)
		if err == nil {
			err = conn.QueryRow(ctx, query).Scan(&sums[i])
		}
		if err != nil {
			side := map[bool]string{true: "primary", false: "node"}[primary]
			r.add(name, false, side+": "+r.clean(err))
			return
		}
	}
	if sums[0] != sums[1] {
		r.add(name, false, fmt.Sprintf("primary %s, node %s", sums[0], sums[1]))
		return
	}
	r.add(name, true, "checksum "+sums[0])
}

func listRows(ctx context.Context, conn *pgx.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func sameList(a, b []string) bool {
	return strings.Join(a, "\x01") == strings.Join(b, "\x01")
}

// diffLists names what only one side has, or counts what both have.
func diffLists(what string, primary, node []string) string {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range list {
			m[s] = true
		}
		return m
	}
	p, n := in(primary), in(node)
	var only []string
	for _, s := range node {
		if !p[s] {
			only = append(only, strings.ReplaceAll(s, "\x00", ".")+" only on the node")
		}
	}
	for _, s := range primary {
		if !n[s] {
			only = append(only, strings.ReplaceAll(s, "\x00", ".")+" missing on the node")
		}
	}
	if len(only) == 0 {
		return fmt.Sprintf("%d on both sides", len(primary))
	}
	sort.Strings(only)
	return what + " " + strings.Join(only, ", ")
}
