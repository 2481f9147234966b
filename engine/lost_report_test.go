package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lostCatalogs are an old primary that created t2, v2 and ft during the
// split and a new primary that has t1 under the same file node.
func lostCatalogs() (old, new *Catalog) {
	old = &Catalog{Databases: []CatalogDatabase{{
		Name: "postgres", OID: 5,
		Relations: []CatalogRelation{
			{SpcNode: 1663, DBNode: 5, RelNode: 16384, Schema: "public", Name: "t1", Kind: "r"},
			{SpcNode: 1663, DBNode: 5, RelNode: 16500, Schema: "public", Name: "t2", Kind: "r"},
			{SpcNode: 1663, DBNode: 5, RelNode: 16505, Schema: "public", Name: "t2_pkey", Kind: "i"},
			{SpcNode: 1663, DBNode: 5, RelNode: 16503, Schema: "pg_toast", Name: "pg_toast_16500", Kind: "t"},
			{SpcNode: 0, DBNode: 5, RelNode: 0, Schema: "public", Name: "v2", Kind: "v"},
			{SpcNode: 1663, DBNode: 5, RelNode: 1259, Schema: "pg_catalog", Name: "pg_class", Kind: "r"},
		},
		Functions: []CatalogFunction{{Schema: "public", Name: "ft", Args: ""}},
	}}}
	new = &Catalog{Databases: []CatalogDatabase{{
		Name: "postgres", OID: 5,
		Relations: []CatalogRelation{
			{SpcNode: 1663, DBNode: 5, RelNode: 16384, Schema: "public", Name: "t1", Kind: "r"},
			{SpcNode: 1663, DBNode: 5, RelNode: 16390, Schema: "public", Name: "tbl", Kind: "r"},
			{SpcNode: 1663, DBNode: 5, RelNode: 1259, Schema: "pg_catalog", Name: "pg_class", Kind: "r"},
		},
	}}}
	return old, new
}

func TestAssembleLostReport(t *testing.T) {
	old, new := lostCatalogs()
	rewind := &Report{
		RewindNeeded: true,
		Divergence:   &Divergence{LSN: "0/3000148", Timeline: 1},
		Lost: &Lost{
			WALBytes: 81920,
			Commits:  []LostCommit{{XID: 740, Time: "2026-11-27T05:00:00Z"}, {XID: 741, Time: "2026-11-27T05:00:01Z"}},
			Relations: []LostRelation{
				{SpcNode: 1663, DBNode: 5, RelNode: 1259, Blocks: 2},
				{SpcNode: 1663, DBNode: 5, RelNode: 16384, Blocks: 3},
				{SpcNode: 1663, DBNode: 5, RelNode: 16500, Blocks: 7},
				{SpcNode: 1663, DBNode: 5, RelNode: 16999, Blocks: 1},
			},
		},
	}
	tests := []struct {
		name      string
		old, new  *Catalog
		wantNames []string // schema.name@named_by per relation, "" when unnamed
		wantOnly  []string // kind schema.name
	}{
		{
			name:      "both catalogs",
			old:       old,
			new:       new,
			wantNames: []string{"pg_catalog.pg_class@old primary", "public.t1@old primary", "public.t2@old primary", ""},
			wantOnly:  []string{"table public.t2", "index public.t2_pkey", "view public.v2", "function public.ft()"},
		},
		{
			name:      "new primary only names what both have",
			old:       nil,
			new:       new,
			wantNames: []string{"pg_catalog.pg_class@new primary", "public.t1@new primary", "", ""},
			wantOnly:  []string{},
		},
		{
			name:      "no new primary: every object of the snapshot",
			old:       old,
			new:       nil,
			wantNames: []string{"pg_catalog.pg_class@old primary", "public.t1@old primary", "public.t2@old primary", ""},
			wantOnly:  []string{"table public.t1", "table public.t2", "index public.t2_pkey", "view public.v2", "function public.ft()"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := AssembleLostReport(LostInput{Host: "pg1", Rewind: rewind, Old: tc.old, New: tc.new, OldTimeline: 1, NewTimeline: 2})
			if len(rep.Commits) != 2 || rep.WALBytes != 81920 || rep.Divergence.LSN != "0/3000148" {
				t.Errorf("commits %v, wal bytes %d, divergence %v", rep.Commits, rep.WALBytes, rep.Divergence)
			}
			var names []string
			for _, r := range rep.Relations {
				n := ""
				if r.Name != "" {
					n = r.Schema + "." + r.Name + "@" + r.NamedBy
				}
				names = append(names, n)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("names %q, want %q", names, tc.wantNames)
			}
			only := []string{}
			for _, o := range rep.OnlyOnOldPrimary {
				only = append(only, o.Kind+" "+o.qualified())
			}
			// onlyOn sorts by name, then kind.
			if strings.Join(sortedCopy(only), ",") != strings.Join(sortedCopy(tc.wantOnly), ",") {
				t.Errorf("only on the old primary %q, want %q", only, tc.wantOnly)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestLostReportTextAndFiles(t *testing.T) {
	old, new := lostCatalogs()
	tests := []struct {
		name        string
		rewind      *Report
		wantSummary []string
		wantText    []string
	}{
		{
			name: "split brain",
			rewind: &Report{RewindNeeded: true, Divergence: &Divergence{LSN: "0/3000148", Timeline: 1},
				Lost: &Lost{WALBytes: 100, Commits: []LostCommit{{XID: 740, Time: "2026-11-27T05:00:00Z"}},
					Relations: []LostRelation{{SpcNode: 1663, DBNode: 5, RelNode: 1259, Blocks: 2}, {SpcNode: 1663, DBNode: 5, RelNode: 16500, Blocks: 7}}}},
			wantSummary: []string{"lost 1 commits, 100 WAL bytes", "after 0/3000148 on timeline 1", "touched public.t2",
				"only on the old primary: function public.ft(), table public.t2, index public.t2_pkey, view public.v2"},
			wantText: []string{"Lost-data report for pg1", "Timelines: old primary 1, new primary 2", "  xid 740 at 2026-11-27T05:00:00Z",
				"  1663/5/16500: 7 blocks: table public.t2 in database postgres, named by the old primary"},
		},
		{
			name:        "nothing lost",
			rewind:      &Report{RewindNeeded: false},
			wantSummary: []string{"nothing lost"},
			wantText:    []string{"Transactions committed on the old primary after the divergence (0):"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := AssembleLostReport(LostInput{Host: "pg1", Rewind: tc.rewind, Old: old, New: new, OldTimeline: 1, NewTimeline: 2})
			for _, w := range tc.wantSummary {
				if !strings.Contains(rep.Summary(), w) {
					t.Errorf("summary %q lacks %q", rep.Summary(), w)
				}
			}
			dir := filepath.Join(t.TempDir(), "pg1")
			jp, tp, err := rep.WriteFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			text, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(string(text), w+"\n") {
					t.Errorf("lost.txt lacks %q:\n%s", w, text)
				}
			}
			// The operator's tables come before PostgreSQL's catalogs.
			i, j := strings.Index(string(text), "blocks: table public.t2"), strings.Index(string(text), "blocks: table pg_catalog.pg_class")
			if (i < 0) != (j < 0) || i > j {
				t.Errorf("lost.txt lists pg_class (%d) before t2 (%d):\n%s", j, i, text)
			}
			b, err := os.ReadFile(jp)
			if err != nil {
				t.Fatal(err)
			}
			var back LostReport
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Commits) != len(rep.Commits) || len(back.OnlyOnOldPrimary) != 4 || back.Host != "pg1" {
				t.Errorf("lost.json round trip: %+v", back)
			}
		})
	}
}
