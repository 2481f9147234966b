package engine

import (
	"context"
	"errors"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"no source", Options{TargetDir: "/t"}, ErrNoSource},
		{"both sources", Options{TargetDir: "/t", SourceDir: "/s", SourceConninfo: "host=x"}, ErrBothSources},
		{"no target", Options{SourceDir: "/s"}, ErrNoTarget},
		{"-R with a local source", Options{TargetDir: "/t", SourceDir: "/s", WriteRecoveryConf: true}, ErrRecoveryConfig},
		{"local", Options{TargetDir: "/t", SourceDir: "/s"}, nil},
		{"remote with -R", Options{TargetDir: "/t", SourceConninfo: "host=x", WriteRecoveryConf: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if _, err := Rewind(context.Background(), tt.opts); !errors.Is(err, tt.want) {
					t.Fatalf("Rewind: got %v, want %v", err, tt.want)
				}
			}
		})
	}
}
