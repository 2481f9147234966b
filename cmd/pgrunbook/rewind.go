package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newRewindCmd) }

// rewindProg is the program name in every message: `pgrunbook rewind` is a
// drop-in for pg_rewind 15, usually behind a wrapper named pg_rewind, and
// scripts match "pg_rewind: error: ...".
const rewindProg = "pg_rewind"

// rewindMajor is the PostgreSQL major version whose pg_rewind this command
// replaces.
const rewindMajor = "15"

const rewindHelp = rewindProg + ` resynchronizes a PostgreSQL cluster with another copy of the cluster.
(This is pgrunbook's rewind engine, a drop-in for PostgreSQL ` + rewindMajor + `'s pg_rewind.)

Usage:
  ` + rewindProg + ` [OPTION]...

Options:
  -c, --restore-target-wal       fetch WAL missing from the target's pg_wal with the
                                 restore_command of the target's configuration
  -D, --target-pgdata=DIRECTORY  data directory to rewind (it is modified)
      --source-pgdata=DIRECTORY  stopped source data directory to copy from
      --source-server=CONNSTR    running source server to copy from
  -n, --dry-run                  do everything except modify the target
  -N, --no-sync                  do not fsync the target at the end
  -P, --progress                 print progress messages
  -R, --write-recovery-conf      make the target a standby of the source server
                                 (needs --source-server)
      --config-file=FILENAME     main configuration file of the target, for the
                                 postgres runs on it
      --debug                    print debugging output
      --no-ensure-shutdown       refuse an uncleanly stopped target instead of
                                 running crash recovery on it
  -V, --version                  print the version, then exit
  -?, --help                     print this help, then exit

pgrunbook options:
      --jobs=N                   fetch from the source server over N connections
      --report=FILE              write a JSON report of the rewind to FILE
      --progress-json            print progress as JSON lines on standard output
      --pg-bin-dir=DIRECTORY     where the target's postgres binary is (default:
                                 /usr/lib/postgresql/<major>/bin, then PATH)
      --keep-config              keep the target's postgresql.conf, pg_hba.conf,
                                 pg_ident.conf, postgresql.auto.conf and top-level
                                 *.crt, *.key, *.pem instead of the source's
      --keep-file=PATH           also keep this file of the target (repeatable)
      --source-stream=HOST:PORT  fetch the file data from "pgrunbook rewind-serve" on
                                 the source host, zstd-compressed (needs
                                 --source-server, which still gives listings and
                                 pg_control)
      --source-stream-token-file=FILE
                                 file holding the token rewind-serve printed
      --source-stream-compress=auto|always|never
                                 compress the stream while the link is slower
                                 than compressing (auto, the default), always,
                                 or never
      --faithful                 copy exactly what pg_rewind 15 copies (default: skip
                                 WAL before the redo point, recycled WAL segments
                                 past the source's WAL position, unlogged
                                 relations' forks and temporary files, which
                                 recovery never reads)

Exit codes: 0 the target was rewound or needed no rewind, 1 an error.
`

func newRewindCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rewind [pg_rewind options]",
		Short: "Rewind a data directory to follow a new primary (a drop-in for pg_rewind " + rewindMajor + ")",
		Long: "Rewind a data directory to follow a new primary. It takes pg_rewind " + rewindMajor +
			"'s options and prints its messages; run \"pgrunbook rewind --help\" for them.",
		// pg_rewind's getopt syntax (-?, abbreviated long options,
		// options after operands) is parsed by parseRewindArgs.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runRewindCLI(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return withCode(code, nil)
			}
			return nil
		},
	}
}

// rewindCLI is the parsed command line of `pgrunbook rewind`.
type rewindCLI struct {
	opts         engine.Options
	progress     bool
	debug        bool
	progressJSON bool
	report       string
	// streamTokenFile holds the stream server's token
	// (--source-stream-token-file); it is read by validate.
	streamTokenFile string
	help            bool
	version         bool
	positional      []string
}

// usageError is a command-line mistake: pg_rewind prints it with a hint to
// --help and exits 1. plain errors come from the option parser and are
// printed without "error: ", as getopt prints them.
type usageError struct {
	msg   string
	plain bool
}

func (e *usageError) Error() string { return e.msg }

// runRewindCLI runs the rewind command line and returns the exit code.
func runRewindCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cli, err := parseRewindArgs(args)
	if err == nil {
		err = cli.validate()
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		if ue.plain {
			fmt.Fprintf(stderr, "%s: %s\n", rewindProg, ue.msg)
		} else {
			fmt.Fprintf(stderr, "%s: error: %s\n", rewindProg, ue.msg)
		}
		fmt.Fprintf(stderr, "%s: hint: Try \"%s --help\" for more information.\n", rewindProg, rewindProg)
		return 1
	case err != nil:
		printRewindError(stderr, err)
		return 1
	case cli.help:
		fmt.Fprint(stdout, rewindHelp)
		return 0
	case cli.version:
		fmt.Fprintf(stdout, "%s (PostgreSQL) %s (pgrunbook %s)\n", rewindProg, rewindMajor, version)
		return 0
	}
	if os.Geteuid() == 0 {
		fmt.Fprintf(stderr, "%s: error: cannot be executed by \"root\"\n", rewindProg)
		fmt.Fprintf(stderr, "%s: hint: You must run %s as the PostgreSQL superuser.\n", rewindProg, rewindProg)
		return 1
	}
	return cli.run(ctx, stdout, stderr)
}

// validate applies pg_rewind's checks of the option combination, then
// refuses operands.
func (c *rewindCLI) validate() error {
	if c.help || c.version {
		return nil
	}
	if err := c.readStreamToken(); err != nil {
		return err
	}
	if err := c.opts.Validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	if len(c.positional) > 0 {
		return &usageError{msg: fmt.Sprintf("too many command-line arguments (first is \"%s\")", c.positional[0])}
	}
	return nil
}

// run performs the rewind with pg_rewind's output.
func (c *rewindCLI) run(ctx context.Context, stdout, stderr io.Writer) int {
	var mu sync.Mutex // one line at a time from concurrent fetch goroutines
	opts := c.opts
	opts.Log = func(level engine.Level, msg string) {
		if level == engine.LevelDebug && !c.debug || level == engine.LevelProgress && !c.progress {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: %s\n", rewindProg, msg)
	}
	opts.ChildStdout, opts.ChildStderr = stdout, stderr
	if c.progressJSON {
		// Standard output carries only JSON lines.
		opts.ChildStdout = stderr
	}
	pr := &progressPrinter{text: c.progress, json: c.progressJSON, stdout: stdout, stderr: stderr, tty: isTerminal(stderr)}
	if pr.text || pr.json {
		opts.OnProgress = pr.update
	}
	rep, err := engine.Rewind(ctx, opts)
	if c.report != "" && rep != nil {
		if werr := rep.WriteFile(c.report); werr != nil {
			printRewindError(stderr, werr)
			if err == nil {
				return 1
			}
		}
	}
	if err != nil {
		printRewindError(stderr, err)
		return 1
	}
	return 0
}

// printRewindError prints an engine failure as pg_rewind prints a fatal
// error, with its detail line if it has one.
func printRewindError(w io.Writer, err error) {
	fmt.Fprintf(w, "%s: error: %s\n", rewindProg, err)
	var ee *engine.Error
	if errors.As(err, &ee) && ee.Detail != "" {
		fmt.Fprintf(w, "%s: detail: %s\n", rewindProg, ee.Detail)
	}
}

// progressPrinter prints -P's "copied" lines (at most once a second, as
// pg_rewind does) and --progress-json's lines (at most four a second,
// plus every phase change).
type progressPrinter struct {
	text, json     bool
	tty            bool
	stdout, stderr io.Writer
	lastText       time.Time
	lastJSON       time.Time
	phase          string
}

func (p *progressPrinter) update(pr engine.Progress) {
	now := time.Now()
	changed := pr.Phase != p.phase
	p.phase = pr.Phase
	if p.json && (changed || now.Sub(p.lastJSON) >= 250*time.Millisecond) {
		p.lastJSON = now
		if b, err := json.Marshal(pr); err == nil {
			fmt.Fprintf(p.stdout, "%s\n", b)
		}
	}
	if !p.text {
		return
	}
	switch {
	case pr.Phase == engine.PhaseCopied:
		p.printCopied(pr, true)
	case pr.Phase == engine.PhaseCopying && !changed && now.Sub(p.lastText) >= time.Second:
		p.lastText = now
		p.printCopied(pr, false)
	case pr.Phase == engine.PhaseCopying && changed:
		p.lastText = now
	}
}

// printCopied prints "done/total kB (P%) copied", the done count padded to
// the width of the total; a terminal gets a carriage return until the last
// line.
func (p *progressPrinter) printCopied(pr engine.Progress, final bool) {
	total := pr.Total
	if pr.Done > total {
		total = pr.Done
	}
	percent := int64(0)
	if total > 0 {
		percent = pr.Done * 100 / total
	}
	totalStr := fmt.Sprint(total / 1024)
	end := "\n"
	if !final && p.tty {
		end = "\r"
	}
	fmt.Fprintf(p.stderr, "%*d/%s kB (%d%%) copied%s", len(totalStr), pr.Done/1024, totalStr, percent, end)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// readStreamToken reads --source-stream-token-file into the options. A
// token file without --source-stream is a mistake worth saying.
func (c *rewindCLI) readStreamToken() error {
	if c.streamTokenFile == "" {
		return nil
	}
	if c.opts.SourceStream == "" {
		return &usageError{msg: "--source-stream-token-file needs --source-stream"}
	}
	b, err := os.ReadFile(c.streamTokenFile)
	if err != nil {
		return fmt.Errorf("read stream token file: %w", err)
	}
	c.opts.SourceStreamToken = string(b)
	return nil
}
