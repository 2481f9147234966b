package steps

import "github.com/pgrunbook/pgrunbook/runbook"

// Kinds returns every built-in step kind, generic and PostgreSQL, each
// with a fresh-parameter constructor for the parser.
func Kinds() []*runbook.Kind {
	return []*runbook.Kind{
		{Name: "command", New: func() runbook.Action { return new(Command) }, Scalar: "cmd"},
		{Name: "file", New: func() runbook.Action { return new(File) }},
		{Name: "rename", New: func() runbook.Action { return new(Rename) }},
		{Name: "conf", New: func() runbook.Action { return new(Conf) }},
		{Name: "copy", New: func() runbook.Action { return new(Copy) }},
		{Name: "wait", New: func() runbook.Action { return new(Wait) }},
		{Name: "sql", New: func() runbook.Action { return new(SQL) }},
		{Name: "pg_stop", New: func() runbook.Action { return new(PgStop) }},
		{Name: "pg_start", New: func() runbook.Action { return new(PgStart) }},
		{Name: "pg_conf", New: func() runbook.Action { return new(PgConf) }},
		{Name: "recovery", New: func() runbook.Action { return new(Recovery) }},
		{Name: "verify", New: func() runbook.Action { return new(Verify) }},
		{Name: "wal_stage", New: func() runbook.Action { return new(WALStage) }}, {Name: "rewind", New: func() runbook.Action { return new(Rewind) }},
		{Name: "catalog_snapshot", New: func() runbook.Action { return new(CatalogSnapshot) }},
		{Name: "lost_report", New: func() runbook.Action { return new(LostReport) }},
		{Name: "fence", New: func() runbook.Action { return new(Fence) }},
	}
}

// Every kind checks its parameters before anything runs.
var (
	_ runbook.Validator = (*Command)(nil)
	_ runbook.Validator = (*File)(nil)
	_ runbook.Validator = (*Rename)(nil)
	_ runbook.Validator = (*Conf)(nil)
	_ runbook.Validator = (*Copy)(nil)
	_ runbook.Validator = (*Wait)(nil)
	_ runbook.Validator = (*SQL)(nil)
)
