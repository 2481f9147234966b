package engine

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

func TestCheckLongHeader(t *testing.T) {
	const (
		magic   = 0xD110
		sysid   = 7300000000000000001
		segSize = 16 << 20
		start   = lsn.LSN(3 * segSize)
	)
	header := func(mutate func(h []byte)) []byte {
		h := make([]byte, 40)
		binary.LittleEndian.PutUint16(h[0:], magic)
		binary.LittleEndian.PutUint16(h[2:], 0x0002)
		binary.LittleEndian.PutUint32(h[4:], 1)
		binary.LittleEndian.PutUint64(h[8:], uint64(start))
		binary.LittleEndian.PutUint64(h[24:], sysid)
		binary.LittleEndian.PutUint32(h[32:], segSize)
		binary.LittleEndian.PutUint32(h[36:], 8192)
		if mutate != nil {
			mutate(h)
		}
		return h
	}
	for _, tt := range []struct {
		name    string
		mutate  func(h []byte)
		wantErr string
	}{
		{name: "good"},
		{name: "other major", mutate: func(h []byte) { binary.LittleEndian.PutUint16(h[0:], 0xD10D) }, wantErr: "page magic D10D"},
		{name: "short header", mutate: func(h []byte) { binary.LittleEndian.PutUint16(h[2:], 0) }, wantErr: "no long header"},
		{name: "other system", mutate: func(h []byte) { binary.LittleEndian.PutUint64(h[24:], 42) }, wantErr: "different database system"},
		{name: "other segment size", mutate: func(h []byte) { binary.LittleEndian.PutUint32(h[32:], 1<<20) }, wantErr: "segment size 1048576"},
		{name: "misnamed", mutate: func(h []byte) { binary.LittleEndian.PutUint64(h[8:], uint64(start+segSize)) }, wantErr: "page address 0/4000000, want 0/3000000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLongHeader(header(tt.mutate), "000000010000000000000003", magic, sysid, segSize, start)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestStageOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts StageOptions
		want error
	}{
		{"ok", StageOptions{TargetDir: "/d", SourceConninfo: "host=a", ArchiveDir: "/a"}, nil},
		{"check only needs no archive", StageOptions{TargetDir: "/d", SourceDir: "/s", CheckOnly: true}, nil},
		{"no archive", StageOptions{TargetDir: "/d", SourceConninfo: "host=a"}, ErrNoArchive},
		{"both archives", StageOptions{TargetDir: "/d", SourceConninfo: "host=a", ArchiveDir: "/a", RestoreCommand: "cp"}, ErrBothArchives},
		{"no source", StageOptions{TargetDir: "/d", ArchiveDir: "/a"}, ErrNoSource},
		{"no target", StageOptions{SourceDir: "/s", ArchiveDir: "/a"}, ErrNoTarget},
	} {
		if err := tt.opts.Validate(); err != tt.want {
			t.Errorf("%s: %v; want %v", tt.name, err, tt.want)
		}
	}
}
