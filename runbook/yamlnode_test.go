package runbook

import (
	"strings"
	"testing"
)

func TestLoadPlaybookShapes(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"empty.yml", "testdata/misc/empty.yml:1:1: playbook is empty"},
		{"comment.yml", "testdata/misc/comment.yml:1:1: playbook is empty"},
		{"scalar.yml", `testdata/misc/scalar.yml:1:1: a playbook is a mapping with name, hosts,`},
		{"two_docs.yml", "testdata/misc/two_docs.yml:7:1: a playbook file holds one YAML document; found a second one"},
		{"anchors.yml", `testdata/misc/anchors.yml:15:7: step "stop c": unknown key "mdoe" in fake_stop (known: pgdata, mode)`},
	}
	for _, tt := range tests {
		_, err := LoadPlaybook("testdata/misc/"+tt.file, ptKinds())
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error = %v\nwant %s", tt.file, err, tt.want)
		}
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	pb, err := LoadPlaybook("testdata/misc/anchors.yml", ptKinds())
	if err == nil {
		t.Fatal("anchors.yml loaded despite its misspelt key")
	}
	// Drop the broken step and check that the good ones decode.
	f, ferr := readYAML("testdata/misc/anchors.yml", "playbook")
	if ferr != nil {
		t.Fatal(ferr)
	}
	steps := deref(f.root).Content[7]
	steps.Content = steps.Content[:2]
	var errs ErrorList
	kinds, _ := kindIndex(ptKinds())
	pb = f.playbook(kinds, &errs)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	vars := map[string]any{"pgdata": "/srv/p"}
	for i, want := range []ptStop{{Pgdata: "/srv/a", Mode: "fast"}, {Pgdata: "/srv/p/b", Mode: "fast"}} {
		act, err := pb.Steps[i].Action(vars)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := *act.(*ptStop); got != want {
			t.Errorf("step %d = %+v, want %+v", i, got, want)
		}
	}
	if got := pb.Vars["base"]; got.(map[string]any)["mode"] != "fast" {
		t.Errorf("vars.base = %#v", got)
	}
}
