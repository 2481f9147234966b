package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestLabUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no hosts", []string{"lab", "up", "--hosts", "0"}, 2},
		{"too many hosts", []string{"lab", "up", "--hosts", "100"}, 2},
		{"negative host CPU budget", []string{"lab", "up", "--host-cpu", "-1"}, 2},
		{"host CPU budget beyond the machine", []string{"lab", "up", "--host-cpu", "4096"}, 2},
		{"host CPU budget too small", []string{"lab", "up", "--host-cpu", "0.001"}, 2},
		{"extra argument", []string{"lab", "down", "extra"}, 2},
		{"unknown flag", []string{"lab", "status", "--bogus"}, 2},
		{"bad name", []string{"lab", "status", "--name", "Bad-Name"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := execute(context.Background(), tt.args); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
		})
	}
}

func TestLabHelpDocumentsExitCodes(t *testing.T) {
	for _, sub := range []string{"up", "down", "status"} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"lab", sub, "--help"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "Exit codes:") || !strings.Contains(out.String(), "--name") {
			t.Errorf("lab %s --help:\n%s", sub, out.String())
		}
	}
}

func TestRunLabUpRejectsHostCount(t *testing.T) {
	err := runLabUp(context.Background(), labUpOptions{labOptions: labOptions{Name: "x"}, Hosts: 0}, &bytes.Buffer{})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("err = %v, want a usage error", err)
	}
}
