package engine

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/source/local"
	"github.com/pgrunbook/pgrunbook/engine/source/remote"
)

// openLocal opens a stopped cluster's data directory as the source.
func openLocal(dir string) (source.Source, error) {
	return local.Open(dir)
}

// openRemote connects to a running source server; debugf receives the
// fetch's --debug messages.
func openRemote(ctx context.Context, conninfo string, jobs int, debugf func(string, ...any)) (source.Source, error) {
	return remote.Open(ctx, conninfo, remote.Options{Jobs: jobs, Debugf: debugf})
}
