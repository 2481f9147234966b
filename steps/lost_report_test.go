package steps

import (
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

func TestLostReportValidate(t *testing.T) {
	tests := []struct {
		name string
		step LostReport
		want string
	}{
		{"complete", LostReport{PGData: "/d", SourceServer: "host=a", ReportDir: "/r"}, ""},
		{"no pgdata", LostReport{SourceServer: "host=a", ReportDir: "/r"}, "pgdata is required"},
		{"no source", LostReport{PGData: "/d", ReportDir: "/r"}, "source_server is required"},
		{"no report_dir: the step skips", LostReport{PGData: "/d", SourceServer: "host=a"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.step.Validate()
			if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if err := (&CatalogSnapshot{}).Validate(); err == nil || err.Error() != "pgdata is required" {
		t.Errorf("catalog_snapshot without pgdata: %v", err)
	}
}

func TestParseCatalog(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		wantDBs []string
		wantErr string
	}{
		{
			name: "two databases",
			out: `{"name":"app","oid":16384,"relations":[{"spcnode":1663,"dbnode":16384,"relnode":16390,"schema":"public","name":"t2","kind":"r"}],"functions":[]}
{"name":"postgres","oid":5,"relations":[],"functions":[{"schema":"public","name":"ft","args":""}]}
`,
			wantDBs: []string{"app", "postgres"},
		},
		{name: "nothing", out: "\n", wantErr: "no database"},
		{name: "not JSON", out: "psql: error\n", wantErr: "parse catalog query output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := parseCatalog(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range cat.Databases {
				got = append(got, d.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantDBs, ",") {
				t.Errorf("databases %v, want %v", got, tc.wantDBs)
			}
		})
	}
}

func TestDivergentSegments(t *testing.T) {
	const seg = 16 << 20
	names := []string{"000000010000000000000002", "000000010000000000000003", "000000010000000000000004",
		"000000020000000000000003", "00000002.history", "archive_status", "000000010000000000000003.partial"}
	tests := []struct {
		name string
		div  lsn.LSN
		want string
	}{
		{"from the divergence's segment on", 0x3000148, "000000010000000000000003,000000010000000000000004"},
		{"last segment only", 0x4000000, "000000010000000000000004"},
		{"past the end", 0x5000000, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(divergentSegments(names, 1, tc.div, seg), ",")
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTouchedTables(t *testing.T) {
	rel := func(db, schema, name, kind string) engine.NamedLostRelation {
		return engine.NamedLostRelation{Database: db, Schema: schema, Name: name, Kind: kind}
	}
	rep := &engine.LostReport{Relations: []engine.NamedLostRelation{
		rel("postgres", "public", "t1", "table"),
		rel("postgres", "public", "t2", "table"),
		rel("postgres", "public", "t2_pkey", "index"),
		rel("postgres", "pg_catalog", "pg_class", "table"),
		rel("postgres", "pg_toast", "pg_toast_16500", "toast table"),
		rel("app", "odd schema", `we"ird`, "table"),
		rel("", "", "", ""),
	}}
	got := touchedTables(rep)
	want := map[string]string{
		"postgres": `"public"."t1" "public"."t2"`,
		"app":      `"odd schema"."we""ird"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for db, w := range want {
		if g := strings.Join(got[db], " "); g != w {
			t.Errorf("%s: got %s, want %s", db, g, w)
		}
	}
}
