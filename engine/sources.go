package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/source/local"
	"github.com/pgrunbook/pgrunbook/engine/source/remote"
)

// openLocal opens a stopped cluster's data directory as the source.
func openLocal(dir string) (source.Source, error) {
	return local.Open(dir)
}

// openRemote connects to a running source server.
func openRemote(ctx context.Context, conninfo string, opts remote.Options) (source.Source, error) {
	s, err := remote.Open(ctx, conninfo, opts)
	if errors.Is(err, remote.ErrFullPageWrites) {
		// pg_rewind's wording stays the message; the detail says which
		// server, as a fleet run has many.
		return nil, &Error{Msg: err.Error(), Detail: "SHOW full_page_writes says off on the source server " +
			serverAddress(conninfo) + "; set full_page_writes = on there and reload it", Err: err}
	}
	return s, err
}

// serverAddress names the server of a connection string by its host and
// port keywords only, so that no password can slip into a message.
func serverAddress(conninfo string) string {
	pairs, err := parseConninfo(conninfo)
	if err != nil || strings.Contains(conninfo, "://") {
		return "(given by --source-server)"
	}
	var parts []string
	for _, p := range pairs {
		switch p[0] {
		case "host", "hostaddr", "port":
			parts = append(parts, p[0]+"="+quoteConninfoValue(p[1]))
		}
	}
	if len(parts) == 0 {
		return "(libpq defaults)"
	}
	return "\"" + strings.Join(parts, " ") + "\""
}
