package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandRestoreCommand(t *testing.T) {
	tests := []struct {
		cmd, want string
		wantErr   error
	}{
		{cmd: "cp /arch/%f %p", want: "cp /arch/000000010000000000000008 /pg/pg_wal/000000010000000000000008"},
		{cmd: "echo 100%% %x %", want: "echo 100% %x %"},
		{cmd: "pg_archivecleanup /arch %r", wantErr: ErrRestoreCommandPercentR},
	}
	for _, tt := range tests {
		got, err := expandRestoreCommand(tt.cmd, "/pg/pg_wal/000000010000000000000008", "000000010000000000000008")
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%q: error %v, want %v", tt.cmd, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.cmd, got, err, tt.want)
		}
	}
}

func TestRestoreCommandRuns(t *testing.T) {
	dir := t.TempDir()
	f, err := RestoreCommand("printf %f > %p")
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "000000010000000000000003")
	if err := f(t.Context(), "000000010000000000000003", dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "000000010000000000000003" {
		t.Errorf("restored %q", b)
	}
	f, _ = RestoreCommand("kill -TERM $$")
	if err := f(t.Context(), "x", dest); err == nil || !strings.Contains(err.Error(), "terminated by signal") {
		t.Errorf("signalled command: %v", err)
	}
	if _, err := RestoreCommand("  "); err == nil {
		t.Errorf("empty restore_command accepted")
	}
}

func TestDirErrors(t *testing.T) {
	dir := t.TempDir()
	name := "000000010000000000000001"
	if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	d := NewDir(dir, testSegSize, nil)
	defer d.Close()
	buf := make([]byte, testPageSize)
	err := d.ReadPage(t.Context(), 1, 1, 0, buf)
	if err == nil || !strings.Contains(err.Error(), `could not read file "`+filepath.Join(dir, name)+`": read 100 of 8192`) {
		t.Errorf("short file: %v", err)
	}
	err = d.ReadPage(t.Context(), 1, 2, 0, buf)
	var mse *MissingSegmentError
	if !errors.As(err, &mse) || mse.Name != "000000010000000000000002" || mse.Dir != dir {
		t.Errorf("missing file: %v", err)
	}
}
