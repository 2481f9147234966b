package steps

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/runbook"
)

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
