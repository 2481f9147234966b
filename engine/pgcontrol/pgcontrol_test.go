package pgcontrol

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/layout"
)

// sampleImage builds a valid PostgreSQL 15 image from hand-set fields, so
// that the unit tests do not depend on a server.
func sampleImage(t testing.TB) []byte {
	t.Helper()
	l, err := layout.For(15)
	if err != nil {
		t.Fatal(err)
	}
	cf := &ControlFile{
		SystemIdentifier: 7712701471541753701,
		ControlVersion:   l.ControlVersion,
		CatalogVersion:   l.CatalogVersion,
		State:            ShutDown,
		Time:             1795746049,
		CheckPoint:       0x17414F8,
		CheckPointCopy: CheckPoint{
			Redo: 0x17414F8, ThisTimeLineID: 1, PrevTimeLineID: 1, FullPageWrites: true,
			NextXID: 724, NextOID: 13572, NextMulti: 1, OldestXID: 716, OldestXIDDB: 1,
			OldestMulti: 1, OldestMultiDB: 1, Time: 1795746049,
		},
		UnloggedLSN: 1000, WalLevel: WalLevelReplica, MaxConnections: 100, MaxWorkerProcesses: 8,
		MaxWalSenders: 10, MaxLocksPerXact: 64, MaxAlign: 8, FloatFormat: 1234567.0,
		BlockSize: 8192, RelSegSize: 131072, WalBlockSize: 8192, WalSegSize: 16 << 20,
		NameDataLen: 64, IndexMaxKeys: 32, ToastMaxChunkSize: 1996, LargeObjectChunkSize: 2048,
		Float8ByVal: true, DataChecksumVersion: 1,
		Layout: l,
	}
	copy(cf.MockAuthNonce[:], "0123456789abcdef0123456789abcdef")
	return cf.Marshal()
}

func TestParseRoundTrip(t *testing.T) {
	img := sampleImage(t)
	cf, err := Parse(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cf.State != ShutDown || cf.CheckPointCopy.NextOID != 13572 || cf.WalSegSize != 16<<20 || cf.Layout.Major != 15 {
		t.Errorf("parsed %+v", cf)
	}
	if out := cf.Marshal(); !bytes.Equal(out, img) {
		t.Errorf("Marshal after Parse differs from the input")
	}
}

// TestMarshalKeepsUnmodelledBytes puts data in the padding after the struct
// (bytes no field covers) and checks an edit leaves it alone.
func TestMarshalKeepsUnmodelledBytes(t *testing.T) {
	img := sampleImage(t)
	img[4000] = 0xAB
	img[8191] = 0xCD
	img[20] = 0x77 // padding between state and time
	fixCRC(img)
	cf, err := Parse(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf.State = InArchiveRecovery
	cf.MinRecoveryPoint = 0x3000060
	cf.MinRecoveryPointTLI = 2
	out := cf.Marshal()
	if out[4000] != 0xAB || out[8191] != 0xCD || out[20] != 0x77 {
		t.Errorf("unmodelled bytes changed")
	}
	back, err := Parse(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.State != InArchiveRecovery || back.MinRecoveryPoint != 0x3000060 || back.MinRecoveryPointTLI != 2 {
		t.Errorf("patched fields not read back: %+v", back)
	}
	diff := 0
	for i := range img {
		if img[i] != out[i] {
			diff++
		}
	}
	// state (1 byte), minRecoveryPoint (up to 4), TLI (1), CRC (up to 4).
	if diff > 10 {
		t.Errorf("%d bytes changed, want at most 10", diff)
	}
}

func fixCRC(img []byte) {
	l, _ := layout.For(15)
	field(img).putU32(l.Control.CRC, checksum(img, l.Control.CRC))
}

func TestParseErrors(t *testing.T) {
	l15, _ := layout.For(15)
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		l       *layout.Layout
		want    string
		wantErr error
	}{
		{name: "short", mutate: func(b []byte) []byte { return b[:296] }, want: "unexpected control file size 296, expected 8192"},
		{name: "long", mutate: func(b []byte) []byte { return append(b, 0) }, want: "unexpected control file size 8193"},
		{name: "crc", mutate: func(b []byte) []byte { b[100] ^= 1; return b }, wantErr: ErrCRC},
		{name: "crc field", mutate: func(b []byte) []byte { b[288] ^= 1; return b }, wantErr: ErrCRC},
		{name: "segment size not power of two", mutate: func(b []byte) []byte {
			field(b).putU32(228, 3<<20)
			fixCRC(b)
			return b
		}, want: "power of two"},
		{name: "segment size too big", mutate: func(b []byte) []byte {
			field(b).putU32(228, 1<<31)
			fixCRC(b)
			return b
		}, want: "power of two"},
		{name: "unknown version", mutate: func(b []byte) []byte {
			field(b).putU32(8, 942)
			fixCRC(b)
			return b
		}, wantErr: layout.ErrUnknownMajor},
		{name: "unchecked version", mutate: func(b []byte) []byte {
			field(b).putU32(12, 202307071)
			fixCRC(b)
			return b
		}, wantErr: layout.ErrUnchecked},
		{name: "layout mismatch", l: l15, mutate: func(b []byte) []byte {
			field(b).putU32(12, 202307071)
			fixCRC(b)
			return b
		}, want: "but PostgreSQL 15 has 1300, 202209061"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.mutate(sampleImage(t)), tt.l)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    DBState
		want string
	}{
		{StartingUp, "starting up"},
		{ShutDown, "shut down"},
		{ShutDownInRecovery, "shut down in recovery"},
		{ShuttingDown, "shutting down"},
		{InCrashRecovery, "in crash recovery"},
		{InArchiveRecovery, "in archive recovery"},
		{InProduction, "in production"},
		{DBState(42), "unrecognized status code"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("DBState(%d) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestWriteAndRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pg_control")
	img := sampleImage(t)
	if err := Write(path, img, true); err == nil {
		t.Fatal("Write created a missing pg_control")
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, img, true); err != nil {
		t.Fatal(err)
	}
	cf, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cf.Raw(), img) {
		t.Errorf("read back differs")
	}
	if err := Write(path, img[:100], false); err == nil {
		t.Errorf("Write of a short image succeeded")
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "read pg_control") {
		t.Errorf("Read of a missing file: %v", err)
	}
	b, _ := os.ReadFile(path)
	if len(b) != layout.FileSize {
		t.Errorf("file is %d bytes", len(b))
	}
}

func TestTimeline(t *testing.T) {
	cf, err := Parse(sampleImage(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	cf.MinRecoveryPointTLI = 3
	if got := cf.Timeline(); got != 1 {
		t.Errorf("15 timeline = %d, want the checkpoint's 1", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sampleImage(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := Parse(b, nil)
		if err != nil {
			return
		}
		if out := cf.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("Marshal of a parsed image differs from it")
		}
	})
}
