package engine

import (
	"fmt"
	"strings"
)

// Summary is the report in one line, for the step's message and the
// recap.
func (r *LostReport) Summary() string {
	if !r.RewindNeeded {
		return "nothing lost: the old primary did not write past the divergence"
	}
	parts := []string{fmt.Sprintf("lost %d commits, %d WAL bytes", len(r.Commits), r.WALBytes)}
	if d := r.Divergence; d != nil {
		parts = append(parts, fmt.Sprintf("after %s on timeline %d", d.LSN, d.Timeline))
	}
	var names []string
	for _, rel := range r.Relations {
		if rel.Name != "" && !systemSchema(rel.Schema) && rel.Kind != "toast table" && rel.Kind != "index" {
			names = append(names, rel.Schema+"."+rel.Name)
		}
	}
	if len(names) > 0 {
		parts = append(parts, "touched "+strings.Join(names, ", "))
	}
	if len(r.OnlyOnOldPrimary) > 0 {
		var only []string
		for _, o := range r.OnlyOnOldPrimary {
			only = append(only, o.Kind+" "+o.qualified())
		}
		parts = append(parts, "only on the old primary: "+strings.Join(only, ", "))
	}
	return strings.Join(parts, "; ")
}

// qualified is the object's schema-qualified name, with a function's
// arguments.
func (o CatalogObject) qualified() string {
	s := o.Schema + "." + o.Name
	if o.Kind == "function" {
		s += "(" + o.Args + ")"
	}
	return s
}

// Text is the report for an operator: every section, one item a line.
func (r *LostReport) Text() string {
	var b strings.Builder
	title := "Lost-data report"
	if r.Host != "" {
		title += " for " + r.Host
	}
	fmt.Fprintf(&b, "%s\n\n%s\n\n", title, r.Summary())
	if d := r.Divergence; d != nil {
		fmt.Fprintf(&b, "Divergence: %s on timeline %d\n", d.LSN, d.Timeline)
	}
	if r.OldTimeline != 0 || r.NewTimeline != 0 {
		fmt.Fprintf(&b, "Timelines: old primary %d, new primary %d\n", r.OldTimeline, r.NewTimeline)
	}
	if c := r.LastCommonCheckpoint; c != nil {
		fmt.Fprintf(&b, "Last common checkpoint: %s (redo %s) on timeline %d\n", c.LSN, c.Redo, c.Timeline)
	}
	fmt.Fprintf(&b, "WAL written by the old primary after the divergence: %d bytes\n", r.WALBytes)
	fmt.Fprintf(&b, "\nTransactions committed on the old primary after the divergence (%d):\n", len(r.Commits))
	for _, c := range r.Commits {
		fmt.Fprintf(&b, "  xid %d at %s\n", c.XID, c.Time)
	}
	fmt.Fprintf(&b, "\nRelations changed (%d), the system catalogs last:\n", len(r.Relations))
	for _, rel := range r.relationsUserFirst() {
		name := "(unknown relation)"
		if rel.Name != "" {
			name = fmt.Sprintf("%s %s.%s", rel.Kind, rel.Schema, rel.Name)
			if rel.Database != "" {
				name += " in database " + rel.Database
			}
			name += ", named by the " + rel.NamedBy
		}
		fmt.Fprintf(&b, "  %d/%d/%d: %d blocks: %s\n", rel.SpcNode, rel.DBNode, rel.RelNode, rel.Blocks, name)
	}
	fmt.Fprintf(&b, "\nObjects only on the old primary (%d):\n", len(r.OnlyOnOldPrimary))
	for _, o := range r.OnlyOnOldPrimary {
		fmt.Fprintf(&b, "  %s %s in database %s\n", o.Kind, o.qualified(), o.Database)
	}
	if s := r.Salvage; s != nil {
		fmt.Fprintf(&b, "\nSalvage in %s:\n", s.Dir)
		for _, f := range s.WALSegments {
			fmt.Fprintf(&b, "  WAL segment %s\n", f)
		}
		for _, f := range s.Dumps {
			fmt.Fprintf(&b, "  dump %s\n", f)
		}
	}
	return b.String()
}

// relationsUserFirst orders the relations for reading: the operator's own
// first, then PostgreSQL's catalogs, each group in file node order.
func (r *LostReport) relationsUserFirst() []NamedLostRelation {
	var user, system []NamedLostRelation
	for _, rel := range r.Relations {
		if systemSchema(rel.Schema) {
			system = append(system, rel)
		} else {
			user = append(user, rel)
		}
	}
	return append(user, system...)
}
