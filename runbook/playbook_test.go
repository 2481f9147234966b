package runbook

import (
	"reflect"
	"testing"
	"time"
)

func TestLoadPlaybookGood(t *testing.T) {
	pb, err := LoadPlaybook("testdata/rejoin.yml", ptKinds())
	if err != nil {
		t.Fatalf("LoadPlaybook: %v", err)
	}
	if pb.Name != "rejoin the old primary as a standby" || pb.Hosts != "old_primary" || pb.Become != "postgres" {
		t.Errorf("top level = %q %q %q", pb.Name, pb.Hosts, pb.Become)
	}
	if pb.Serial != "50%" || pb.MaxFailPercentage == nil || *pb.MaxFailPercentage != 25 {
		t.Errorf("serial %q max_fail %v", pb.Serial, pb.MaxFailPercentage)
	}
	if pb.Vars["port"] != 5432 || pb.Vars["new_primary"] != "10.77.0.12" {
		t.Errorf("vars = %#v", pb.Vars)
	}
	if len(pb.Steps) != 3 {
		t.Fatalf("steps = %d, want 3", len(pb.Steps))
	}
	stop, rw, show := pb.Steps[0], pb.Steps[1], pb.Steps[2]
	if stop.Name != "stop cleanly" || stop.Kind.Name != "fake_stop" || stop.Register != "stopped" ||
		!reflect.DeepEqual(stop.Tags, []string{"stop", "always"}) || stop.Become != nil {
		t.Errorf("stop = %+v", stop)
	}
	if stop.Pos != (Pos{"testdata/rejoin.yml", 11, 5}) {
		t.Errorf("stop pos = %v", stop.Pos)
	}
	if rw.When != "not .stopped.failed" || rw.Retries != 3 || rw.Delay != 2*time.Second || rw.Until != "eq .rewound.rc 0" {
		t.Errorf("rewind options = %+v", rw)
	}
	if show.Become == nil || *show.Become != "" || show.ChangedWhen != "false" || show.FailedWhen != "ne .shown.rc 0" ||
		!show.IgnoreErrors || !show.RunOnce || show.DelegateTo != "bastion" || show.Delay != 90*time.Second ||
		!reflect.DeepEqual(show.Tags, []string{"check", "verify"}) {
		t.Errorf("show options = %+v (become %v)", show, show.Become)
	}
}

func TestLoadPlaybookNotFound(t *testing.T) {
	if _, err := LoadPlaybook("testdata/nope.yml", ptKinds()); err == nil {
		t.Fatal("LoadPlaybook of a missing file succeeded")
	}
}

func TestLoadPlaybookBadKinds(t *testing.T) {
	kinds := append(ptKinds(), &Kind{Name: "when", New: func() Action { return &ptStop{} }})
	if _, err := LoadPlaybook("testdata/rejoin.yml", kinds); err == nil {
		t.Fatal("a kind named like a step option was accepted")
	}
}
