package engine

import (
	"fmt"
	"os"
	"strings"
)

// autoConf is the file ALTER SYSTEM writes, which the server reads last.
const autoConf = "postgresql.auto.conf"

// writeRecoveryConf makes the rewound target a standby of the source (-R):
// an empty standby.signal and primary_conninfo in postgresql.auto.conf.
// The rewind copied auto.conf from the source, which may carry a stale
// primary_conninfo of its own: it is replaced, never duplicated
// (pg_rewind appends a second line). Skipped in dry-run mode.
func (r *run) writeRecoveryConf() error {
	if !r.opts.WriteRecoveryConf || r.opts.DryRun {
		return nil
	}
	ci, err := standbyConninfo(r.opts.SourceConninfo)
	if err != nil {
		return err
	}
	mode := r.w.FileMode()
	signal := r.targetPath("standby.signal")
	if err := os.WriteFile(signal, nil, mode); err != nil {
		return fmt.Errorf("could not create file \"%s\": %w", signal, err)
	}
	path := r.targetPath(autoConf)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("could not open file \"%s\": %w", path, err)
	}
	content := setConfLine(string(old), "primary_conninfo", "'"+escapeConfValue(ci)+"'")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return fmt.Errorf("could not write to file \"%s\": %w", path, err)
	}
	return nil
}

// setConfLine drops every setting of name from a configuration file's
// text and appends one "name = value" line.
func setConfLine(text, name, value string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" || confLineName(line) == name {
			continue
		}
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "%s = %s\n", name, value)
	return b.String()
}

// confLineName is the parameter a configuration line sets, lowercased, or
// "" for comments and blank lines.
func confLineName(line string) string {
	s := strings.TrimLeft(line, " \t")
	end := strings.IndexAny(s, " \t=#\r\n")
	if end < 0 {
		end = len(s)
	}
	return strings.ToLower(s[:end])
}

// escapeConfValue escapes a value for a single-quoted configuration
// string, as the server's own writer does: quotes and backslashes doubled.
func escapeConfValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v)
}
