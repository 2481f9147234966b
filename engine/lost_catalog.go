package engine

// Catalog is a snapshot of one server's object names: per database, every
// relation with the file node its blocks live in, and every function. The
// rewind engine sees only file nodes in the WAL; a catalog turns them back
// into the names an operator knows, and comparing two catalogs finds the
// objects that exist on one server only.
type Catalog struct {
	// TakenAt is when the snapshot was taken, in RFC 3339 form.
	TakenAt string `json:"taken_at,omitempty"`
	// Databases are the databases that accept connections.
	Databases []CatalogDatabase `json:"databases"`
}

// CatalogDatabase is the part of a catalog snapshot from one database, as
// CatalogQuery returns it.
type CatalogDatabase struct {
	Name string `json:"name"`
	OID  uint32 `json:"oid"`
	// Relations include the system catalogs, so that a lost change to
	// pg_class or pg_proc is named too; shared catalogs have DBNode 0.
	Relations []CatalogRelation `json:"relations"`
	// Functions are the functions outside the system schemas.
	Functions []CatalogFunction `json:"functions"`
}

// CatalogRelation is one relation and the file node (tablespace, database,
// relfilenode) its blocks live in, as the WAL names them.
type CatalogRelation struct {
	SpcNode uint32 `json:"spcnode"`
	DBNode  uint32 `json:"dbnode"`
	RelNode uint32 `json:"relnode"`
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	// Kind is pg_class.relkind: r table, v view, i index, S sequence, t
	// TOAST table, m materialized view, p partitioned table, f foreign
	// table, c composite type, I partitioned index.
	Kind string `json:"kind"`
}

// CatalogFunction is one function, named with its identity arguments so
// that overloads stay apart.
type CatalogFunction struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Args   string `json:"args"`
}

// CatalogQuery returns, in the database it runs in, one JSON object in the
// shape of CatalogDatabase (oids cast to numbers: JSON renders an oid as a
// string). It only reads the catalogs. A mapped catalog (pg_class itself) has relfilenode 0 in
// pg_class: pg_relation_filenode asks the relation mapper instead. Views
// and other relations without storage get relnode 0.
const CatalogQuery = `SELECT json_build_object(
  'name', d.datname,
  'oid', d.oid::int8,
  'relations', (SELECT coalesce(json_agg(json_build_object(
      'spcnode', (CASE WHEN c.relisshared THEN (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_global')
                      WHEN c.reltablespace = 0 THEN d.dattablespace ELSE c.reltablespace END)::int8,
      'dbnode', (CASE WHEN c.relisshared THEN 0 ELSE d.oid END)::int8,
      'relnode', coalesce(pg_relation_filenode(c.oid), 0)::int8,
      'schema', n.nspname, 'name', c.relname, 'kind', c.relkind) ORDER BY c.oid), '[]'::json)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace),
  'functions', (SELECT coalesce(json_agg(json_build_object(
      'schema', n.nspname, 'name', p.proname, 'args', pg_get_function_identity_arguments(p.oid)) ORDER BY p.oid), '[]'::json)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')))
FROM pg_database d WHERE d.datname = current_database()`

// CatalogDatabasesQuery lists the databases a catalog snapshot covers.
const CatalogDatabasesQuery = `SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname`

// systemSchema reports whether a schema belongs to PostgreSQL itself, whose
// objects are never reported as existing on one server only.
func systemSchema(s string) bool {
	return s == "pg_catalog" || s == "information_schema" || len(s) >= 8 && s[:8] == "pg_toast" ||
		len(s) >= 7 && s[:7] == "pg_temp"
}

// relKindName is the word a report uses for a pg_class relkind.
func relKindName(kind string) string {
	switch kind {
	case "r":
		return "table"
	case "p":
		return "partitioned table"
	case "v":
		return "view"
	case "m":
		return "materialized view"
	case "i", "I":
		return "index"
	case "S":
		return "sequence"
	case "t":
		return "toast table"
	case "f":
		return "foreign table"
	case "c":
		return "composite type"
	}
	return "relation"
}
