package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestLabUpPostgresUsage checks the flag combinations `lab up` refuses
// before touching the machine.
func TestLabUpPostgresUsage(t *testing.T) {
	for _, c := range []struct {
		opts labUpOptions
		want string
	}{
		{labUpOptions{Hosts: 4, Clusters: 2}, "--clusters 2 needs --postgres"},
		{labUpOptions{Hosts: 2, Clusters: 3, Postgres: true}, "--clusters 3: want 1 to --hosts (2)"},
		{labUpOptions{Hosts: 2, Clusters: -1, Postgres: true}, "--clusters -1"},
	} {
		c.opts.Name = "usage"
		var out bytes.Buffer
		err := runLabUp(context.Background(), c.opts, &out)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want exit 2 with %q", c.opts, err, c.want)
		}
	}
}
