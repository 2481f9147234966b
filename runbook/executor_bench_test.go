package runbook

import (
	"context"
	"io"
	"testing"

	"gopkg.in/yaml.v3"
)

// noopAction does nothing, so that a benchmark measures the executor.
type noopAction struct {
	Msg string `yaml:"msg"`
}

func (*noopAction) Run(context.Context, *Target) (Outcome, error) { return Outcome{}, nil }

// BenchmarkNoopStep measures the executor's own cost per step on one host:
// selecting, rendering and decoding the step, judging and counting its
// result, and (in the json case) rendering its events. One op is one step.
func BenchmarkNoopStep(b *testing.B) {
	for _, bc := range []struct {
		name   string
		events func(Event)
	}{
		{"no-events", nil},
		{"json-events", NewJSONRenderer(io.Discard).Event},
	} {
		b.Run(bc.name, func(b *testing.B) {
			kind := &Kind{Name: "noop", New: func() Action { return new(noopAction) }}
			var params yaml.Node
			if err := yaml.Unmarshal([]byte(`{msg: "{{ .inventory_hostname }}"}`), &params); err != nil {
				b.Fatal(err)
			}
			steps := make([]*Step, b.N)
			for i := range steps {
				steps[i] = &Step{Name: "noop", Kind: kind, Params: params.Content[0]}
			}
			lab := newFakeLab()
			opts := RunOptions{Playbook: playbook(steps...), Inventory: fakeInventory(1), Connect: lab.connect, Events: bc.events}
			b.ReportAllocs()
			b.ResetTimer()
			recap, err := Run(context.Background(), opts)
			b.StopTimer()
			if err != nil || recap.Hosts["pg1"].OK != b.N {
				b.Fatalf("run: %v, %+v", err, recap.Hosts)
			}
		})
	}
}
