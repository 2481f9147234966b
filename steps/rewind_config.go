package steps

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/runbook"
)

// configFile is one file of the configuration set (engine.IsConfigFile)
// on the node, on the new primary, or on both, with both contents.
type configFile struct {
	Path             string
	OnNode, OnSource bool
	Node, Source     []byte
}

// differs tells whether the rewind, copying the new primary's set, would
// change this file on the node.
func (c configFile) differs() bool {
	return c.OnNode != c.OnSource || string(c.Node) != string(c.Source)
}

// keepConfig is the keep_config parameter, on unless set to false.
func (s *Rewind) keepConfig() bool { return s.KeepConfig == nil || *s.KeepConfig }

// nodeConfigScript prints the node's configuration set: the top-level
// regular files named as engine.ConfigFileNames and ConfigFileSuffixes
// say (a pattern that matches nothing stays literal and is no file).
const nodeConfigScript = `cd "$1" || exit 1
for f in postgresql.conf pg_hba.conf pg_ident.conf postgresql.auto.conf *.crt *.key *.pem; do
	if [ -f "$f" ] && [ ! -L "$f" ]; then printf '%s\n' "$f"; fi
done`

// configSet reads the configuration set of both sides, for --check: the
// node's files through the host as the become user, the new primary's
// through its SQL file functions (the rewind role's grants, the ones a
// rewind from a server uses), so that nothing on the host changes.
func (s *Rewind) configSet(ctx context.Context, t *runbook.Target) ([]configFile, error) {
	files := map[string]*configFile{}
	get := func(p string) *configFile {
		if files[p] == nil {
			files[p] = &configFile{Path: p}
		}
		return files[p]
	}
	res, err := script(ctx, t, nodeConfigScript, s.PGData)
	if err != nil {
		return nil, fmt.Errorf("list the node's configuration files in %s: %w", s.PGData, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("list the node's configuration files in %s: %w", s.PGData, failure(res))
	}
	for _, name := range strings.Fields(res.Stdout) {
		if !engine.IsConfigFile(name) {
			continue
		}
		b, ok, err := readFile(ctx, t, path.Join(s.PGData, name))
		if err != nil {
			return nil, fmt.Errorf("read the node's %s: %w", path.Join(s.PGData, name), err)
		}
		if ok {
			f := get(name)
			f.OnNode, f.Node = true, b
		}
	}
	if err := s.sourceConfig(ctx, t, get); err != nil {
		return nil, err
	}
	out := make([]configFile, 0, len(files))
	for _, f := range files {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b configFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// sourceConfig reads the new primary's configuration set from its data
// directory with pg_ls_dir, pg_stat_file and pg_read_binary_file, in the
// forms a rewind role is granted.
func (s *Rewind) sourceConfig(ctx context.Context, t *runbook.Target, get func(string) *configFile) error {
	conn, err := dialThroughHost(ctx, t, s.SourceServer, "")
	if err != nil {
		return fmt.Errorf("read the new primary's configuration files: %w", err)
	}
	defer closeConn(ctx, conn)
	rows, err := conn.Query(ctx, "SELECT f FROM pg_ls_dir('.', true, false) AS f")
	if err != nil {
		return fmt.Errorf("list the new primary's data directory: %w", redact(err, s.SourceServer, nil))
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("list the new primary's data directory: %w", err)
		}
		if engine.IsConfigFile(n) {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the new primary's data directory: %w", redact(err, s.SourceServer, nil))
	}
	for _, n := range names {
		// A file that vanished meanwhile reads as NULL: it is not there.
		var isDir *bool
		var content []byte
		err := conn.QueryRow(ctx, "SELECT (pg_stat_file($1, true)).isdir, CASE WHEN NOT (pg_stat_file($1, true)).isdir THEN pg_read_binary_file($1) END", n).Scan(&isDir, &content)
		if err != nil {
			return fmt.Errorf("read the new primary's %s: %w", n, redact(err, s.SourceServer, nil))
		}
		if isDir == nil || *isDir {
			continue
		}
		f := get(n)
		f.OnSource, f.Source = true, content
	}
	return nil
}

// configCheck sums up, under --check, what the rewind would do to the
// node's configuration set: with keep_config the files it keeps (and
// which of them differ from the new primary's), without it the diff of
// every file it would overwrite, create or remove.
func (s *Rewind) configCheck(files []configFile) (msg string, diffs []runbook.FileDiff, facts []map[string]any) {
	var names []string
	for _, f := range files {
		facts = append(facts, map[string]any{"path": f.Path, "on_node": f.OnNode, "on_source": f.OnSource, "differs": f.differs()})
		if s.keepConfig() {
			n := f.Path
			if f.differs() {
				n += " (differs)"
			}
			names = append(names, n)
			continue
		}
		if !f.differs() {
			continue
		}
		names = append(names, f.Path)
		diffs = append(diffs, runbook.FileDiff{
			Path:   path.Join(s.PGData, f.Path),
			Before: shownContent(f.Path, f.Node, f.OnNode),
			After:  shownContent(f.Path, f.Source, f.OnSource),
		})
	}
	switch {
	case len(names) == 0:
		return "", nil, facts
	case s.keepConfig():
		return "keeps the node's " + strings.Join(names, ", "), nil, facts
	}
	return "would replace the node's " + strings.Join(names, ", ") + " with the new primary's", diffs, facts
}

// keptSummary names the files a finished rewind kept, from its report's
// kept_config.
func keptSummary(rep map[string]any) string {
	list, _ := rep["kept_config"].([]any)
	var names []string
	for _, v := range list {
		k, _ := v.(map[string]any)
		n, _ := k["path"].(string)
		if n == "" {
			continue
		}
		if d, _ := k["differs"].(bool); d {
			n += " (differs)"
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return ""
	}
	return "kept the node's " + strings.Join(names, ", ")
}

// shownContent is a file's content as a diff shows it: text as it is, but
// a private key, or anything that is not text, only by its size and hash,
// so that no secret reaches the output.
func shownContent(name string, b []byte, exists bool) string {
	switch {
	case !exists:
		return ""
	case strings.HasSuffix(name, ".key") || strings.Contains(string(b), "PRIVATE KEY"):
		return fmt.Sprintf("(private key, %d bytes, sha256 %x)\n", len(b), sha256.Sum256(b))
	case !utf8.Valid(b) || strings.ContainsRune(string(b), 0):
		return fmt.Sprintf("(binary file, %d bytes, sha256 %x)\n", len(b), sha256.Sum256(b))
	}
	return string(b)
}

// checkOutcome is the --check outcome of a needed rewind: msg, plus what
// the rewind would do to the node's configuration set.
func (s *Rewind) checkOutcome(ctx context.Context, t *runbook.Target, msg string, facts map[string]any) (runbook.Outcome, error) {
	files, err := s.configSet(ctx, t)
	if err != nil {
		return runbook.Outcome{Facts: facts}, fmt.Errorf("rewind %s: %w", s.PGData, err)
	}
	cmsg, diffs, cfacts := s.configCheck(files)
	facts["config"] = cfacts
	out := runbook.Outcome{Changed: true, Msg: joinNonEmpty(msg, cmsg), Facts: facts}
	if t.Diff {
		out.Diffs = diffs
	}
	return out, nil
}

// saveConfigScript copies the node's configuration set into a new private
// directory and prints its path.
const saveConfigScript = `d=$(mktemp -d /tmp/pgrunbook-config.XXXXXX) || exit 1
cd "$1" || exit 1
for f in postgresql.conf pg_hba.conf pg_ident.conf postgresql.auto.conf *.crt *.key *.pem; do
	if [ -f "$f" ] && [ ! -L "$f" ]; then cp -p -- "$f" "$d/$f" || exit 1; fi
done
printf '%s\n' "$d"`

// restoreConfigScript puts the saved set ($2) back into the data directory
// ($1): a configuration file the node did not have goes, every saved one
// is put back atomically; each is printed as "same NAME" or "differs NAME"
// (compared with what pg_rewind left). The saved directory is removed.
const restoreConfigScript = `cd "$1" || exit 1
for f in postgresql.conf pg_hba.conf pg_ident.conf postgresql.auto.conf *.crt *.key *.pem; do
	if [ -f "$f" ] && [ ! -L "$f" ] && [ ! -e "$2/$f" ]; then rm -f -- "$f" || exit 1; printf 'differs %s\n' "$f"; fi
done
for p in "$2"/*; do
	[ -f "$p" ] || continue
	f=${p##*/}
	if [ -f "$f" ] && cmp -s -- "$p" "$f"; then s=same; else s=differs; fi
	cp -p -- "$p" "$f.pgrunbook-tmp" && mv -f -- "$f.pgrunbook-tmp" "$f" || exit 1
	printf '%s %s\n' "$s" "$f"
done
rm -rf -- "$2"`

// runKeepingConfig runs the engine; when that is the host's pg_rewind
// (program not "") and keep_config is on, the node's configuration set is
// saved before and put back after, even after a failure, since pg_rewind
// has no such option. It returns the kept files in the report's
// kept_config form ({path, differs}; nil when nothing was kept this way).
func (s *Rewind) runKeepingConfig(ctx context.Context, t *runbook.Target, e *remoteEngine, program string, args []string) (*engineRun, []any, error) {
	if program == "" || !s.keepConfig() {
		out, err := e.runEngine(ctx, program, args, s.SourceServer)
		return out, nil, err
	}
	res, err := script(ctx, t, saveConfigScript, s.PGData)
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("save the node's configuration files of %s: %w", s.PGData, err)
	}
	saved := strings.TrimSpace(res.Stdout)
	out, runErr := e.runEngine(ctx, program, args, s.SourceServer)
	res, err = script(context.WithoutCancel(ctx), t, restoreConfigScript, s.PGData, saved)
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		err = fmt.Errorf("put the node's configuration files back into %s (saved in %s): %w", s.PGData, saved, err)
		if runErr != nil {
			err = fmt.Errorf("%w; %w", runErr, err)
		}
		return out, nil, err
	}
	kept := []any{}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		state, name, ok := strings.Cut(line, " ")
		if ok {
			kept = append(kept, map[string]any{"path": name, "differs": state == "differs"})
		}
	}
	return out, kept, runErr
}
