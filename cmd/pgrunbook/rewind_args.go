package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

// rewindOption is one option of `pgrunbook rewind`, in getopt_long terms.
type rewindOption struct {
	long  string
	short byte // 0 when there is no short form
	arg   bool // takes a required argument
	set   func(c *rewindCLI, v string) error
}

// rewindOptions are pg_rewind 15's options (getopt "cD:nNPR" plus its long
// options) and pgrunbook's own.
var rewindOptions = []rewindOption{
	{"restore-target-wal", 'c', false, func(c *rewindCLI, _ string) error { c.opts.RestoreTargetWAL = true; return nil }},
	{"target-pgdata", 'D', true, func(c *rewindCLI, v string) error { c.opts.TargetDir = v; return nil }},
	{"source-pgdata", 0, true, func(c *rewindCLI, v string) error { c.opts.SourceDir = v; return nil }},
	{"source-server", 0, true, func(c *rewindCLI, v string) error { c.opts.SourceConninfo = v; return nil }},
	{"dry-run", 'n', false, func(c *rewindCLI, _ string) error { c.opts.DryRun = true; return nil }},
	{"no-sync", 'N', false, func(c *rewindCLI, _ string) error { c.opts.NoSync = true; return nil }},
	{"progress", 'P', false, func(c *rewindCLI, _ string) error { c.progress = true; return nil }},
	{"write-recovery-conf", 'R', false, func(c *rewindCLI, _ string) error { c.opts.WriteRecoveryConf = true; return nil }},
	{"config-file", 0, true, func(c *rewindCLI, v string) error { c.opts.ConfigFile = v; return nil }},
	{"debug", 0, false, func(c *rewindCLI, _ string) error { c.debug = true; return nil }},
	{"no-ensure-shutdown", 0, false, func(c *rewindCLI, _ string) error { c.opts.NoEnsureShutdown = true; return nil }},
	{"jobs", 0, true, func(c *rewindCLI, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &usageError{msg: fmt.Sprintf("invalid value \"%s\" for option --jobs: want a whole number of at least 1", v)}
		}
		c.opts.Jobs = n
		return nil
	}},
	{"report", 0, true, func(c *rewindCLI, v string) error { c.report = v; return nil }},
	{"progress-json", 0, false, func(c *rewindCLI, _ string) error { c.progressJSON = true; return nil }},
	{"pg-bin-dir", 0, true, func(c *rewindCLI, v string) error { c.opts.BinDir = v; return nil }},
	{"keep-config", 0, false, func(c *rewindCLI, _ string) error { c.opts.KeepConfig = true; return nil }},
	{"keep-file", 0, true, func(c *rewindCLI, v string) error { c.opts.KeepFiles = append(c.opts.KeepFiles, v); return nil }},
	{"source-stream", 0, true, func(c *rewindCLI, v string) error { c.opts.SourceStream = v; return nil }},
	{"source-stream-token-file", 0, true, func(c *rewindCLI, v string) error { c.streamTokenFile = v; return nil }},
	{"source-stream-compress", 0, true, func(c *rewindCLI, v string) error {
		mode, err := stream.ParseCompression(v)
		if err != nil {
			return &usageError{msg: fmt.Sprintf("invalid value \"%s\" for option --source-stream-compress: want auto, always or never", v)}
		}
		c.opts.SourceStreamCompress = mode
		return nil
	}},
	{"faithful", 0, false, func(c *rewindCLI, _ string) error { c.opts.Faithful = true; return nil }},
}

// parseRewindArgs parses args the way pg_rewind's getopt_long does: help
// and version only as the first argument, long options with "=value" or a
// separate value and abbreviated to any unique prefix, bundled short
// options with attached or separate values, operands anywhere, and "--"
// ending the options. The operands are kept so that validation can refuse
// them with pg_rewind's message.
func parseRewindArgs(args []string) (*rewindCLI, error) {
	c := &rewindCLI{}
	if len(args) > 0 {
		switch args[0] {
		case "--help", "-?":
			c.help = true
			return c, nil
		case "--version", "-V":
			c.version = true
			return c, nil
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			c.positional = append(c.positional, args[i+1:]...)
			return c, nil
		case strings.HasPrefix(a, "--"):
			next, err := c.parseLong(args, i)
			if err != nil {
				return nil, err
			}
			i = next
		case strings.HasPrefix(a, "-") && a != "-":
			next, err := c.parseShort(args, i)
			if err != nil {
				return nil, err
			}
			i = next
		default:
			c.positional = append(c.positional, a)
		}
	}
	return c, nil
}

// parseLong handles args[i], a long option, and returns the index of the
// last argument it consumed.
func (c *rewindCLI) parseLong(args []string, i int) (int, error) {
	name, value, hasValue := strings.Cut(args[i][2:], "=")
	opt, err := lookupLong(name)
	if err != nil {
		return 0, err
	}
	switch {
	case !opt.arg && hasValue:
		return 0, &usageError{msg: fmt.Sprintf("option '--%s' doesn't allow an argument", opt.long), plain: true}
	case opt.arg && !hasValue:
		if i+1 >= len(args) {
			return 0, &usageError{msg: fmt.Sprintf("option '--%s' requires an argument", opt.long), plain: true}
		}
		i++
		value = args[i]
	}
	return i, opt.set(c, value)
}

// lookupLong finds a long option by its name or a unique prefix of it.
func lookupLong(name string) (*rewindOption, error) {
	var matches []*rewindOption
	for k := range rewindOptions {
		o := &rewindOptions[k]
		if o.long == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.long, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, &usageError{msg: fmt.Sprintf("unrecognized option '--%s'", name), plain: true}
	}
	var names []string
	for _, m := range matches {
		names = append(names, "'--"+m.long+"'")
	}
	sort.Strings(names)
	return nil, &usageError{msg: fmt.Sprintf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " ")), plain: true}
}

// parseShort handles args[i], one or more bundled short options, and
// returns the index of the last argument it consumed.
func (c *rewindCLI) parseShort(args []string, i int) (int, error) {
	a := args[i]
	for j := 1; j < len(a); j++ {
		opt := lookupShort(a[j])
		if opt == nil {
			return 0, &usageError{msg: fmt.Sprintf("invalid option -- '%c'", a[j]), plain: true}
		}
		if !opt.arg {
			if err := opt.set(c, ""); err != nil {
				return 0, err
			}
			continue
		}
		value := a[j+1:]
		if value == "" {
			if i+1 >= len(args) {
				return 0, &usageError{msg: fmt.Sprintf("option requires an argument -- '%c'", a[j]), plain: true}
			}
			i++
			value = args[i]
		}
		return i, opt.set(c, value)
	}
	return i, nil
}

func lookupShort(b byte) *rewindOption {
	for k := range rewindOptions {
		if rewindOptions[k].short == b {
			return &rewindOptions[k]
		}
	}
	return nil
}
