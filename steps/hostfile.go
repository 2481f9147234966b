package steps

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// fileInfo is what stat says about a path on the host.
type fileInfo struct {
	Exists bool
	// Type is "file", "directory", "symlink" or "other".
	Type  string
	Perm  fs.FileMode // permission bits, setuid/setgid/sticky included
	Owner string
	Group string
	Size  int64
}

// absentRC is the exit status the host-file scripts use for "no such path",
// chosen to collide with no status of cat, stat or mv.
const absentRC = 44

// run executes a command on the host as t.Become.
func run(ctx context.Context, t *runbook.Target, cmd transport.Command) (transport.Result, error) {
	cmd.Become = t.Become
	return t.Conn.Exec(ctx, cmd)
}

// script runs an sh program with args as its positional parameters ($1...),
// so that paths are passed as they are and never need quoting.
func script(ctx context.Context, t *runbook.Target, program string, args ...string) (transport.Result, error) {
	argv := append([]string{"sh", "-c", program, "pgrunbook"}, args...)
	return run(ctx, t, transport.Command{Argv: argv})
}

// failure turns a failed command's result into an error carrying its
// standard error.
func failure(res transport.Result) error {
	msg := strings.TrimSpace(res.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(res.Stdout)
	}
	if msg == "" {
		return fmt.Errorf("exit status %d", res.ExitCode)
	}
	return fmt.Errorf("%s (exit status %d)", msg, res.ExitCode)
}

const statScript = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat $2 -c '%F|%a|%U|%G|%s' -- "$1"; fi; exit 44`

// statPath inspects path; follow resolves a symbolic link to its target.
func statPath(ctx context.Context, t *runbook.Target, path string, follow bool) (fileInfo, error) {
	flag := ""
	if follow {
		flag = "-L"
	}
	res, err := script(ctx, t, statScript, path, flag)
	if err != nil {
		return fileInfo{}, err
	}
	if res.ExitCode == absentRC {
		return fileInfo{}, nil
	}
	if res.ExitCode != 0 {
		return fileInfo{}, failure(res)
	}
	return parseStat(res.Stdout)
}

func parseStat(out string) (fileInfo, error) {
	f := strings.Split(strings.TrimRight(out, "\n"), "|")
	if len(f) != 5 {
		return fileInfo{}, fmt.Errorf("unexpected stat output %q", out)
	}
	perm, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil {
		return fileInfo{}, fmt.Errorf("unexpected stat mode %q", f[1])
	}
	size, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return fileInfo{}, fmt.Errorf("unexpected stat size %q", f[4])
	}
	typ := "other"
	switch f[0] {
	case "regular file", "regular empty file":
		typ = "file"
	case "directory":
		typ = "directory"
	case "symbolic link":
		typ = "symlink"
	}
	return fileInfo{Exists: true, Type: typ, Perm: fs.FileMode(perm), Owner: f[2], Group: f[3], Size: size}, nil
}

const readScript = `if [ -e "$1" ]; then exec cat -- "$1"; fi; exit 44`

// readFile returns the content of path, or exists false when there is no
// such file.
func readFile(ctx context.Context, t *runbook.Target, path string) (content []byte, exists bool, err error) {
	res, err := script(ctx, t, readScript, path)
	if err != nil {
		return nil, false, err
	}
	switch res.ExitCode {
	case 0:
		return []byte(res.Stdout), true, nil
	case absentRC:
		return nil, false, nil
	}
	return nil, false, failure(res)
}

// writeScript replaces $1 with its standard input (or the file $5)
// atomically: it writes
// $1.pgrunbook-tmp (created private, so secrets are never readable by
// others, even briefly), gives it mode $2 (or the old file's mode), owner
// $3 and group $4 (or the old file's owner, when permitted), then renames it
// over $1. A symbolic link is resolved first so that the link survives and
// its target is replaced. On any failure the temporary file is removed.
const writeScript = `set -e
p=$1
if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi
tmp=$p.pgrunbook-tmp
trap 'rm -f -- "$tmp"' EXIT
rm -f -- "$tmp"
if [ -n "$5" ]; then (umask 077 && cat -- "$5" >"$tmp"); else (umask 077 && cat >"$tmp"); fi
if [ -n "$2" ]; then chmod -- "$2" "$tmp"
elif [ -e "$p" ]; then chmod --reference="$p" -- "$tmp"
fi
if [ -n "$3$4" ]; then chown -- "$3${4:+:$4}" "$tmp"
elif [ -e "$p" ]; then chown --reference="$p" -- "$tmp" 2>/dev/null || true
fi
mv -f -- "$tmp" "$p"
trap - EXIT`

// writeFile atomically replaces path with content. A nil perm keeps the old
// file's mode, or gives a new file 0600: files pgrunbook writes often hold
// connection strings. Empty owner and group keep the old file's owner when
// the user may, and otherwise leave the file owned by t.Become.
func writeFile(ctx context.Context, t *runbook.Target, path string, content []byte, perm *Mode, owner, group string) error {
	m := ""
	if perm != nil {
		m = perm.String()
	}
	argv := []string{"sh", "-c", writeScript, "pgrunbook", path, m, owner, group}
	res, err := run(ctx, t, transport.Command{Argv: argv, Stdin: bytes.NewReader(content)})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return failure(res)
	}
	return nil
}

// attrChanges compares a path's mode, owner and group with the wanted ones
// (unset wants match anything) and returns the chmod and chown arguments
// that would fix them ("" when nothing differs), plus a pseudo-diff of the
// attributes: one "mode 0644" / "owner root" line per differing attribute.
func attrChanges(fi fileInfo, perm *Mode, owner, group string) (chmod, chown string, before, after []string) {
	if perm != nil && fs.FileMode(*perm) != fi.Perm {
		chmod = perm.String()
		before = append(before, "mode "+Mode(fi.Perm).String())
		after = append(after, "mode "+perm.String())
	}
	if owner != "" && owner != fi.Owner {
		chown = owner
		before = append(before, "owner "+fi.Owner)
		after = append(after, "owner "+owner)
	}
	if group != "" && group != fi.Group {
		chown += ":" + group
		before = append(before, "group "+fi.Group)
		after = append(after, "group "+group)
	}
	return chmod, chown, before, after
}

const attrScript = `set -e
if [ -n "$2" ]; then chmod -- "$2" "$1"; fi
if [ -n "$3" ]; then chown -- "$3" "$1"; fi`

// setAttrs applies chmod and chown arguments from attrChanges to path.
func setAttrs(ctx context.Context, t *runbook.Target, path, chmod, chown string) error {
	if chmod == "" && chown == "" {
		return nil
	}
	res, err := script(ctx, t, attrScript, path, chmod, chown)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return failure(res)
	}
	return nil
}

// hostFile is one file as readFiles found it.
type hostFile struct {
	Exists  bool
	Content []byte
	// Perm is the file's permission bits (of a symbolic link itself, as
	// statPath without follow).
	Perm fs.FileMode
}

// readFilesScript prints, for each path, "-" when it does not exist, else
// "+MODE BASE64" (mode as stat's %a, the content in base64 on one line),
// so that several files come back in one command, whatever bytes they
// hold.
const readFilesScript = `for f; do
if [ -e "$f" ]; then m=$(stat -c %a -- "$f") && b=$(base64 -w0 -- "$f") || exit 1; printf '+%s %s\n' "$m" "$b"
else echo -
fi
done`

// readFiles reads several files in one command as t.Become, where
// readFile and statPath would take one each: every command is an SSH
// session and a sudo run on the host (about 10 ms of its CPU).
func readFiles(ctx context.Context, t *runbook.Target, paths ...string) (map[string]hostFile, error) {
	res, err := script(ctx, t, readFilesScript, paths...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", strings.Join(paths, ", "), err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("read %s: %w", strings.Join(paths, ", "), failure(res))
	}
	return parseReadFiles(res.Stdout, paths)
}

// parseReadFiles reads readFilesScript's output, one line per path.
func parseReadFiles(out string, paths []string) (map[string]hostFile, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(paths) {
		return nil, fmt.Errorf("read %s: %d answers for %d files", strings.Join(paths, ", "), len(lines), len(paths))
	}
	files := make(map[string]hostFile, len(paths))
	for i, l := range lines {
		if l == "-" {
			files[paths[i]] = hostFile{}
			continue
		}
		mode, b64, ok := strings.Cut(strings.TrimPrefix(l, "+"), " ")
		perm, err := strconv.ParseUint(mode, 8, 32)
		if !ok || !strings.HasPrefix(l, "+") || err != nil {
			return nil, fmt.Errorf("read %s: unexpected answer %q", paths[i], l)
		}
		content, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", paths[i], err)
		}
		files[paths[i]] = hostFile{Exists: true, Content: content, Perm: fs.FileMode(perm)}
	}
	return files, nil
}
