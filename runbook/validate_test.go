package runbook

import (
	"testing"
)

func TestValidateGood(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook("testdata/rejoin.yml", ptKinds())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(pb, inv, nil, map[string]any{"jobs": 4}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	err = Validate(pb, inv, nil, nil)
	want := `testdata/rejoin.yml:15:5: step "rewind": host pg1: variable "jobs" is not defined`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate without jobs = %v, want %s", err, want)
	}
}

// A step's conditions may read its own registered result, including facts
// only the run adds and lines only the run fills in; Validate must accept
// them rather than fail on the stand-in's empty values.
func TestValidateOwnRegister(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook("testdata/misc/own-register.yml", ptKinds())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(pb, inv, nil, nil); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
