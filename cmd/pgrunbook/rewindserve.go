package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

func init() { subcommands = append(subcommands, newRewindServeCmd) }

// rewindServeOptions are the flags of `pgrunbook rewind-serve`.
type rewindServeOptions struct {
	dataDir     string
	listen      string
	idleTimeout time.Duration
}

func (o *rewindServeOptions) register(f *pflag.FlagSet) {
	f.StringVarP(&o.dataDir, "pgdata", "D", "", "data directory of the running source server to serve (read only)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Minute, "stop once no connection has been open for this long")
}

const rewindServeLong = `Serve the files of a running source server's data directory to
"pgrunbook rewind --source-stream", which fetches the ranges a rewind needs as
one zstd-compressed stream instead of over SQL. Run it on the new primary as
the database OS user; it reads PGDATA (following pg_tblspc links) and writes
nothing.

Once listening it prints exactly one line on standard output, then nothing else:
  {"listen":"127.0.0.1:PORT","token":"<64 hex digits>"}
Every connection must present the token first. Put it in a file for the
rewind's --source-stream-token-file; never on a command line.

It serves until SIGTERM or SIGINT, or until no connection has been open for
--idle-timeout. Messages go to standard error.

Exit codes: 0 stopped by a signal or idle, 1 an error, 2 a usage error.`

func newRewindServeCmd() *cobra.Command {
	var opts rewindServeOptions
	cmd := &cobra.Command{
		Use:   "rewind-serve -D PGDATA [--listen ADDR] [--idle-timeout DUR]",
		Short: "Serve a source data directory's files to a rewind as a compressed stream",
		Long:  rewindServeLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRewindServe(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.register(cmd.Flags())
	return cmd
}

// readyLine is the one line rewind-serve prints on standard output.
type readyLine struct {
	Listen string `json:"listen"`
	Token  string `json:"token"`
}

// runRewindServe listens, prints the ready line and serves until ctx ends
// or the server is idle.
func runRewindServe(ctx context.Context, o rewindServeOptions, stdout, stderr io.Writer) error {
	if o.dataDir == "" {
		return withCode(2, fmt.Errorf("rewind-serve: no data directory (-D PGDATA)"))
	}
	if o.idleTimeout < 0 {
		return withCode(2, fmt.Errorf("rewind-serve: --idle-timeout %s is negative", o.idleTimeout))
	}
	dir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return withCode(1, fmt.Errorf("rewind-serve: %w", err))
	}
	// A wrong -D is said at once, not on the first connection.
	if _, err := stream.ReadIdentity(dir); err != nil {
		return withCode(1, fmt.Errorf("rewind-serve: %w", err))
	}
	token, hexToken, err := stream.NewToken()
	if err != nil {
		return withCode(1, fmt.Errorf("rewind-serve: %w", err))
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.listen)
	if err != nil {
		return withCode(1, fmt.Errorf("rewind-serve: listen on %s: %w", o.listen, err))
	}
	b, err := json.Marshal(readyLine{Listen: ln.Addr().String(), Token: hexToken})
	if err != nil {
		ln.Close()
		return withCode(1, fmt.Errorf("rewind-serve: encode ready line: %w", err))
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
		ln.Close()
		return withCode(1, fmt.Errorf("rewind-serve: print ready line: %w", err))
	}
	srv := &stream.Server{
		DataDir:     dir,
		Token:       token,
		IdleTimeout: o.idleTimeout,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(stderr, "pgrunbook rewind-serve: "+format+"\n", args...)
		},
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return withCode(1, fmt.Errorf("rewind-serve: %w", err))
	}
	return nil
}
