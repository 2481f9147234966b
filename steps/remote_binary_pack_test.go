package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestInstallPacked ships a binary compressed with zstd through the
// local transport (the same shell line as over SSH) and checks that the
// host ends up with exactly the binary, executable, under its
// content-addressed name, with nothing else left next to it.
func TestInstallPacked(t *testing.T) {
	content := make([]byte, 3<<20)
	rand.Read(content[:1<<20]) // the rest compresses
	bin := filepath.Join(t.TempDir(), "pgrunbook")
	mustWrite(t, bin, string(content), 0o755)
	sum := sha256.Sum256(content)
	for _, codec := range []string{"zstd"} {
		t.Run(codec, func(t *testing.T) {
			if _, err := exec.LookPath(codec); err != nil {
				t.Skipf("no %s on this machine; skipping", codec)
			}
			dir := t.TempDir()
			e := newRemoteEngine(&runbook.Target{Conn: newConn(), Host: &runbook.Host{Name: "local", Vars: map[string]any{"remote_dir": dir}}}, bin)
			d, err := digestFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(dir, "pgrunbook-"+hex.EncodeToString(sum[:]))
			if err := e.uploadPacked(context.Background(), bin, d, dest, codec); err != nil {
				t.Fatalf("upload packed: %v", err)
			}
			checkInstalled(t, dir, dest, content)
		})
	}
	t.Run("install", func(t *testing.T) {
		// Packed when this machine has zstd, plain otherwise.
		dir := t.TempDir()
		e := newRemoteEngine(&runbook.Target{Conn: newConn(), Host: &runbook.Host{Name: "local", Vars: map[string]any{"remote_dir": dir}}}, bin)
		for i, wantUpload := range []bool{true, false} {
			dest, uploaded, err := e.install(context.Background())
			if err != nil || uploaded != wantUpload {
				t.Fatalf("install %d: uploaded=%v %v; want uploaded=%v", i, uploaded, err, wantUpload)
			}
			checkInstalled(t, dir, dest, content)
		}
	})
	t.Run("wrong size", func(t *testing.T) {
		if _, err := exec.LookPath("zstd"); err != nil {
			t.Skip("no zstd on this machine; skipping")
		}
		dir := t.TempDir()
		e := newRemoteEngine(&runbook.Target{Conn: newConn(), Host: &runbook.Host{Name: "local", Vars: map[string]any{"remote_dir": dir}}}, bin)
		d, err := digestFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		d.Size++ // as if the packed bytes were of another file
		dest := filepath.Join(dir, "pgrunbook-"+hex.EncodeToString(sum[:]))
		if err := e.uploadPacked(context.Background(), bin, d, dest, "zstd"); err == nil {
			t.Fatal("an unpacked file of the wrong size was accepted")
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("left in remote_dir after a failed unpack: %v", left)
		}
	})
}

// checkInstalled checks that dir holds dest only, executable, with content.
func checkInstalled(t *testing.T, dir, dest string, content []byte) {
	t.Helper()
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("%s: %d bytes (%v), want the binary's %d", dest, len(got), err, len(content))
	}
	if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v (%v), want 0755", dest, st.Mode(), err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("remote_dir holds %v, want the binary only", left)
	}
}
