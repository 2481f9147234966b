package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// maxTextDiff is the largest file whose content a diff shows; larger or
// non-UTF-8 files are summarised by their checksums.
const maxTextDiff = 64 << 10

// Copy puts a file from the bastion (where the executor runs) on the host,
// uploading only when the host's copy differs in content; mode and owner
// are fixed separately when only they differ.
//
//	copy: {src: files/pg_hba.conf, dest: /etc/postgresql/15/main/pg_hba.conf, mode: "0640", owner: postgres}
type Copy struct {
	// Src is the file on the bastion.
	Src string `yaml:"src"`
	// Dest is the path on the host.
	Dest string `yaml:"dest"`
	// Mode is the wanted permission bits; unset keeps the old file's, and a
	// new file gets 0600.
	Mode *Mode `yaml:"mode"`
	// Owner and Group are the wanted owner and group; unset, an existing
	// file keeps its owner and a new one belongs to the become user.
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// Validate checks that src and dest are given.
func (c *Copy) Validate() error {
	if c.Src == "" || c.Dest == "" {
		return errors.New("src and dest are required")
	}
	return nil
}

// Run compares the host's file with src by sha256 and attributes, and
// installs src or fixes the attributes when they differ.
func (c *Copy) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := c.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("copy: %w", err)
	}
	content, err := os.ReadFile(c.Src)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("copy %s: read source: %w", c.Dest, err)
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	fi, err := statPath(ctx, t, c.Dest, true)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("copy %s: stat: %w", c.Dest, err)
	}
	if fi.Exists && fi.Type != "file" {
		return runbook.Outcome{}, fmt.Errorf("copy %s: is a %s, not a file", c.Dest, fi.Type)
	}
	have := ""
	if fi.Exists {
		if have, err = remoteSHA256(ctx, t, c.Dest); err != nil {
			return runbook.Outcome{}, fmt.Errorf("copy %s: checksum: %w", c.Dest, err)
		}
	}
	if have == want {
		return c.fixAttrs(ctx, t, fi)
	}
	out := runbook.Outcome{Changed: true, Msg: "uploaded " + c.Src}
	if t.Diff {
		d, err := c.diff(ctx, t, fi, content, have, want)
		if err != nil {
			return runbook.Outcome{}, fmt.Errorf("copy %s: read for diff: %w", c.Dest, err)
		}
		out.Diffs = []runbook.FileDiff{d}
	}
	if t.Check {
		out.Msg = "would upload " + c.Src
		return out, nil
	}
	if err := c.install(ctx, t, content); err != nil {
		return runbook.Outcome{}, fmt.Errorf("copy %s: %w", c.Dest, err)
	}
	return out, nil
}

// fixAttrs handles a host file whose content is right: only mode and
// ownership may need a change.
func (c *Copy) fixAttrs(ctx context.Context, t *runbook.Target, fi fileInfo) (runbook.Outcome, error) {
	chmod, chown, before, after := attrChanges(fi, c.Mode, c.Owner, c.Group)
	if len(before) == 0 {
		return runbook.Outcome{Msg: "content and attributes as wanted"}, nil
	}
	out := runbook.Outcome{Changed: true, Msg: strings.Join(after, ", ")}
	if t.Diff {
		out.Diffs = []runbook.FileDiff{{Path: c.Dest, Before: strings.Join(before, "\n") + "\n", After: strings.Join(after, "\n") + "\n"}}
	}
	if t.Check {
		return out, nil
	}
	if err := setAttrs(ctx, t, c.Dest, chmod, chown); err != nil {
		return runbook.Outcome{}, fmt.Errorf("copy %s: set attributes: %w", c.Dest, err)
	}
	return out, nil
}

// diff shows the old and new content for small text files and the
// checksums otherwise.
func (c *Copy) diff(ctx context.Context, t *runbook.Target, fi fileInfo, content []byte, have, want string) (runbook.FileDiff, error) {
	d := runbook.FileDiff{Path: c.Dest}
	var before []byte
	if fi.Exists && fi.Size <= maxTextDiff {
		b, _, err := readFile(ctx, t, c.Dest)
		if err != nil {
			return d, err
		}
		before = b
	}
	text := len(content) <= maxTextDiff && utf8.Valid(content) &&
		(!fi.Exists || fi.Size <= maxTextDiff && utf8.Valid(before))
	if text {
		d.Before, d.After = string(before), string(content)
		return d, nil
	}
	if fi.Exists {
		d.Before = "sha256 " + have + "\n"
	}
	d.After = "sha256 " + want + " (binary content differs)\n"
	return d, nil
}

// install uploads content as the login user to a private staging directory
// and then, as the become user, copies it into place through writeScript,
// which gives it its mode and owner and renames it over dest atomically.
// The staging directory is 0711 and the file's name is random, so the
// become user can read the file while other users can neither list nor
// guess it.
func (c *Copy) install(ctx context.Context, t *runbook.Target, content []byte) error {
	res, err := t.Conn.Exec(ctx, transport.Command{Argv: []string{"sh", "-c", `d=$(mktemp -d) && chmod 0711 "$d" && echo "$d"`}})
	if err != nil {
		return fmt.Errorf("make staging directory: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("make staging directory: %w", failure(res))
	}
	dir := strings.TrimSpace(res.Stdout)
	defer func() {
		// Clean up even when ctx was cancelled: the directory holds a copy
		// of the content.
		_, _ = t.Conn.Exec(context.WithoutCancel(ctx), transport.Command{Argv: []string{"rm", "-rf", "--", dir}})
	}()
	staged := path.Join(dir, "upload-"+randomHex(16))
	if err := t.Conn.Upload(ctx, bytes.NewReader(content), staged, 0o644); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	m := ""
	if c.Mode != nil {
		m = c.Mode.String()
	}
	res, err = script(ctx, t, writeScript, c.Dest, m, c.Owner, c.Group, staged)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("install: %w", failure(res))
	}
	return nil
}

// remoteSHA256 returns the hex sha256 of a file on the host.
func remoteSHA256(ctx context.Context, t *runbook.Target, p string) (string, error) {
	res, err := script(ctx, t, `exec sha256sum -- "$1"`, p)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return "", failure(res)
	}
	f := strings.Fields(res.Stdout)
	if len(f) == 0 {
		return "", fmt.Errorf("unexpected sha256sum output %q", res.Stdout)
	}
	// sha256sum marks a line with a leading backslash when it had to
	// escape the file name.
	sum := strings.TrimPrefix(f[0], `\`)
	if len(sum) != 64 {
		return "", fmt.Errorf("unexpected sha256sum output %q", res.Stdout)
	}
	return sum, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
