package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// LostReport is what a rewind of the old primary would throw away, written
// before anything is rewound: where and on which timelines the servers
// parted, the WAL and the transactions the old primary wrote after that
// point, the relations those changes touched (named), and the objects that
// exist on the old primary only.
type LostReport struct {
	// Host is the inventory name of the old primary.
	Host string `json:"host,omitempty"`
	// Divergence is where the timelines parted.
	Divergence *Divergence `json:"divergence,omitempty"`
	// OldTimeline is the old primary's timeline, NewTimeline the new
	// primary's; 0 when unknown.
	OldTimeline uint32 `json:"old_timeline,omitempty"`
	NewTimeline uint32 `json:"new_timeline,omitempty"`
	// LastCommonCheckpoint is where the rewound copy will start replay.
	LastCommonCheckpoint *CommonCheckpoint `json:"last_common_checkpoint,omitempty"`
	// RewindNeeded is false when the old primary never went past the
	// divergence: then nothing is lost.
	RewindNeeded bool `json:"rewind_needed"`
	// WALBytes is the old primary's WAL after the divergence.
	WALBytes int64 `json:"wal_bytes"`
	// Commits are the transactions committed on the old primary after
	// the divergence, in WAL order.
	Commits []LostCommit `json:"commits"`
	// Relations are the relations those changes touched.
	Relations []NamedLostRelation `json:"relations"`
	// OnlyOnOldPrimary are the objects of the old primary's catalog
	// snapshot that the new primary does not have.
	OnlyOnOldPrimary []CatalogObject `json:"only_on_old_primary"`
	// Salvage, when set, is where the divergent WAL and a dump of the
	// touched tables were kept.
	Salvage *Salvage `json:"salvage,omitempty"`
}

// NamedLostRelation is a relation file the old primary changed after the
// divergence, with the name the catalogs give it.
type NamedLostRelation struct {
	LostRelation
	// Database, Schema, Name and Kind are empty when neither catalog knows
	// the file node (a relation created and dropped within the split).
	Database string `json:"database,omitempty"`
	Schema   string `json:"schema,omitempty"`
	Name     string `json:"name,omitempty"`
	Kind     string `json:"kind,omitempty"`
	// NamedBy says which catalog gave the name: "old primary" (its
	// snapshot) or "new primary".
	NamedBy string `json:"named_by,omitempty"`
}

// CatalogObject is a named object of one database.
type CatalogObject struct {
	Database string `json:"database"`
	// Kind is "table", "view", "function", "index", "sequence", ...
	Kind   string `json:"kind"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Args are a function's identity arguments.
	Args string `json:"args,omitempty"`
}

// Salvage lists what was kept on the bastion for re-applying lost writes.
type Salvage struct {
	Dir string `json:"dir"`
	// WALSegments are the divergent WAL segment files copied.
	WALSegments []string `json:"wal_segments,omitempty"`
	// Dumps are the pg_dump files of the touched tables.
	Dumps []string `json:"dumps,omitempty"`
}

// LostInput is what AssembleLostReport combines.
type LostInput struct {
	Host string
	// Rewind is the report of a dry run of the rewind.
	Rewind *Report
	// Old is the old primary's catalog snapshot, New the new primary's
	// catalogs of the same databases; either may be nil.
	Old, New *Catalog
	// OldTimeline and NewTimeline are the servers' current timelines.
	OldTimeline, NewTimeline uint32
}

// AssembleLostReport names the lost relations (from the old primary's
// snapshot first, since it knows the relations created during the split,
// then from the new primary for relations both have) and lists the objects
// only the old primary has.
func AssembleLostReport(in LostInput) *LostReport {
	rep := &LostReport{
		Host:             in.Host,
		OldTimeline:      in.OldTimeline,
		NewTimeline:      in.NewTimeline,
		Commits:          []LostCommit{},
		Relations:        []NamedLostRelation{},
		OnlyOnOldPrimary: onlyOn(in.Old, in.New),
	}
	if r := in.Rewind; r != nil {
		rep.Divergence = r.Divergence
		rep.LastCommonCheckpoint = r.LastCommonCheckpoint
		rep.RewindNeeded = r.RewindNeeded
		if r.Lost != nil {
			rep.WALBytes = r.Lost.WALBytes
			rep.Commits = append(rep.Commits, r.Lost.Commits...)
			for _, rel := range r.Lost.Relations {
				rep.Relations = append(rep.Relations, nameRelation(rel, in.Old, in.New))
			}
		}
	}
	return rep
}

// nameRelation looks a lost relation's file node up in the catalogs.
func nameRelation(rel LostRelation, old, new *Catalog) NamedLostRelation {
	out := NamedLostRelation{LostRelation: rel}
	for _, side := range []struct {
		c    *Catalog
		name string
	}{{old, "old primary"}, {new, "new primary"}} {
		if db, r, ok := side.c.lookup(rel.SpcNode, rel.DBNode, rel.RelNode); ok {
			out.Database, out.Schema, out.Name, out.Kind, out.NamedBy = db, r.Schema, r.Name, relKindName(r.Kind), side.name
			return out
		}
	}
	return out
}

// lookup finds the relation stored in a file node; a shared catalog is
// reported in the first database that lists it.
func (c *Catalog) lookup(spc, db, rel uint32) (string, CatalogRelation, bool) {
	if c == nil || rel == 0 {
		return "", CatalogRelation{}, false
	}
	for _, d := range c.Databases {
		for _, r := range d.Relations {
			if r.SpcNode == spc && r.DBNode == db && r.RelNode == rel {
				name := d.Name
				if db == 0 {
					name = ""
				}
				return name, r, true
			}
		}
	}
	return "", CatalogRelation{}, false
}

// objects lists the catalog's named objects outside the system schemas,
// without TOAST tables.
func (c *Catalog) objects() []CatalogObject {
	if c == nil {
		return nil
	}
	var out []CatalogObject
	for _, d := range c.Databases {
		for _, r := range d.Relations {
			if systemSchema(r.Schema) || r.Kind == "t" {
				continue
			}
			out = append(out, CatalogObject{Database: d.Name, Kind: relKindName(r.Kind), Schema: r.Schema, Name: r.Name})
		}
		for _, f := range d.Functions {
			if systemSchema(f.Schema) {
				continue
			}
			out = append(out, CatalogObject{Database: d.Name, Kind: "function", Schema: f.Schema, Name: f.Name, Args: f.Args})
		}
	}
	return out
}

// onlyOn lists the objects of a that b does not have, sorted. Without a
// snapshot of a there is nothing to compare; without b every object of a
// is listed.
func onlyOn(a, b *Catalog) []CatalogObject {
	have := map[CatalogObject]bool{}
	for _, o := range b.objects() {
		have[o] = true
	}
	out := []CatalogObject{}
	for _, o := range a.objects() {
		if !have[o] {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Database != y.Database {
			return x.Database < y.Database
		}
		if x.Schema != y.Schema {
			return x.Schema < y.Schema
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		return x.Kind+x.Args < y.Kind+y.Args
	})
	return out
}

// WriteFiles writes the report into dir as lost.json and its human
// summary as lost.txt, and returns both paths.
func (r *LostReport) WriteFiles(dir string) (jsonPath, textPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create lost report directory %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode lost report: %w", err)
	}
	jsonPath, textPath = filepath.Join(dir, "lost.json"), filepath.Join(dir, "lost.txt")
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return "", "", fmt.Errorf("write lost report %s: %w", jsonPath, err)
	}
	if err := os.WriteFile(textPath, []byte(r.Text()), 0o644); err != nil {
		return "", "", fmt.Errorf("write lost report %s: %w", textPath, err)
	}
	return jsonPath, textPath, nil
}
