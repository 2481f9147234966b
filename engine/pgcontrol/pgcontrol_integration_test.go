package pgcontrol

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// controlData runs pg_controldata on a data directory and returns its
// "label: value" lines as a map. LC_ALL=C and TZ=UTC make the times
// predictable.
func controlData(t *testing.T, pgdata string) map[string]string {
	t.Helper()
	cmd := exec.Command(filepath.Join(pgBin, "pg_controldata"), pgdata)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pg_controldata %s: %v\n%s", pgdata, err, out)
	}
	// pg_controldata still prints the fields when the CRC is wrong, but
	// warns first; a warning means our image is bad.
	if bytes.Contains(out, []byte("WARNING")) {
		t.Errorf("pg_controldata warned:\n%s", out)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ctime(sec int64) string {
	return time.Unix(sec, 0).UTC().Format("Mon Jan _2 15:04:05 2006")
}

// expectedControlData renders cf the way pg_controldata prints it.
func expectedControlData(cf *ControlFile) map[string]string {
	cp := cf.CheckPointCopy
	byValue := "by reference"
	if cf.Float8ByVal {
		byValue = "by value"
	}
	return map[string]string{
		"pg_control version number":             fmt.Sprint(cf.ControlVersion),
		"Catalog version number":                fmt.Sprint(cf.CatalogVersion),
		"Database system identifier":            fmt.Sprint(cf.SystemIdentifier),
		"Database cluster state":                cf.State.String(),
		"pg_control last modified":              ctime(cf.Time),
		"Latest checkpoint location":            cf.CheckPoint.String(),
		"Latest checkpoint's REDO location":     cp.Redo.String(),
		"Latest checkpoint's REDO WAL file":     lsn.SegmentName(cp.ThisTimeLineID, cp.Redo.Segment(cf.WalSegSize), cf.WalSegSize),
		"Latest checkpoint's TimeLineID":        fmt.Sprint(cp.ThisTimeLineID),
		"Latest checkpoint's PrevTimeLineID":    fmt.Sprint(cp.PrevTimeLineID),
		"Latest checkpoint's full_page_writes":  onOff(cp.FullPageWrites),
		"Latest checkpoint's NextXID":           fmt.Sprintf("%d:%d", cp.NextXID>>32, uint32(cp.NextXID)),
		"Latest checkpoint's NextOID":           fmt.Sprint(cp.NextOID),
		"Latest checkpoint's NextMultiXactId":   fmt.Sprint(cp.NextMulti),
		"Latest checkpoint's NextMultiOffset":   fmt.Sprint(cp.NextMultiOffset),
		"Latest checkpoint's oldestXID":         fmt.Sprint(cp.OldestXID),
		"Latest checkpoint's oldestXID's DB":    fmt.Sprint(cp.OldestXIDDB),
		"Latest checkpoint's oldestActiveXID":   fmt.Sprint(cp.OldestActiveXID),
		"Latest checkpoint's oldestMultiXid":    fmt.Sprint(cp.OldestMulti),
		"Latest checkpoint's oldestMulti's DB":  fmt.Sprint(cp.OldestMultiDB),
		"Latest checkpoint's oldestCommitTsXid": fmt.Sprint(cp.OldestCommitTsXID),
		"Latest checkpoint's newestCommitTsXid": fmt.Sprint(cp.NewestCommitTsXID),
		"Time of latest checkpoint":             ctime(cp.Time),
		"Fake LSN counter for unlogged rels":    cf.UnloggedLSN.String(),
		"Minimum recovery ending location":      cf.MinRecoveryPoint.String(),
		"Min recovery ending loc's timeline":    fmt.Sprint(cf.MinRecoveryPointTLI),
		"Backup start location":                 cf.BackupStartPoint.String(),
		"Backup end location":                   cf.BackupEndPoint.String(),
		"End-of-backup record required":         yesNo(cf.BackupEndRequired),
		"wal_level setting":                     cf.WalLevel.String(),
		"wal_log_hints setting":                 onOff(cf.WalLogHints),
		"max_connections setting":               fmt.Sprint(cf.MaxConnections),
		"max_worker_processes setting":          fmt.Sprint(cf.MaxWorkerProcesses),
		"max_wal_senders setting":               fmt.Sprint(cf.MaxWalSenders),
		"max_prepared_xacts setting":            fmt.Sprint(cf.MaxPreparedXacts),
		"max_locks_per_xact setting":            fmt.Sprint(cf.MaxLocksPerXact),
		"track_commit_timestamp setting":        onOff(cf.TrackCommitTimestamp),
		"Maximum data alignment":                fmt.Sprint(cf.MaxAlign),
		"Database block size":                   fmt.Sprint(cf.BlockSize),
		"Blocks per segment of large relation":  fmt.Sprint(cf.RelSegSize),
		"WAL block size":                        fmt.Sprint(cf.WalBlockSize),
		"Bytes per WAL segment":                 fmt.Sprint(cf.WalSegSize),
		"Maximum length of identifiers":         fmt.Sprint(cf.NameDataLen),
		"Maximum columns in an index":           fmt.Sprint(cf.IndexMaxKeys),
		"Maximum size of a TOAST chunk":         fmt.Sprint(cf.ToastMaxChunkSize),
		"Size of a large-object chunk":          fmt.Sprint(cf.LargeObjectChunkSize),
		"Float8 argument passing":               byValue,
		"Data page checksum version":            fmt.Sprint(cf.DataChecksumVersion),
		"Mock authentication nonce":             hex.EncodeToString(cf.MockAuthNonce[:]),
	}
}

func compareControlData(t *testing.T, pgdata string, cf *ControlFile) {
	t.Helper()
	got := controlData(t, pgdata)
	want := expectedControlData(cf)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: pg_controldata says %q, parsed %q", k, got[k], v)
		}
	}
	if len(got) < len(want) {
		t.Errorf("pg_controldata printed %d fields, want at least %d", len(got), len(want))
	}
}

func TestRealControlFile(t *testing.T) {
	pgdata := initCluster(t)
	path := filepath.Join(pgdata, "global", "pg_control")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if cf.DataChecksumVersion != 1 || cf.State != ShutDown || cf.Layout.Major != 15 {
		t.Errorf("fresh initdb -k cluster: checksums %d, state %v, major %d", cf.DataChecksumVersion, cf.State, cf.Layout.Major)
	}
	compareControlData(t, pgdata, cf)

	if !bytes.Equal(cf.Marshal(), orig) {
		t.Fatal("Marshal of the unmodified control file differs from the file")
	}

	// Patch what a rewind patches and let pg_controldata judge the result.
	cf.State = InArchiveRecovery
	cf.MinRecoveryPoint = 0x3000060
	cf.MinRecoveryPointTLI = 2
	cf.Time = 1800000000
	if err := Write(path, cf.Marshal(), true); err != nil {
		t.Fatal(err)
	}
	got := controlData(t, pgdata)
	for k, v := range map[string]string{
		"Database cluster state":             "in archive recovery",
		"Minimum recovery ending location":   "0/3000060",
		"Min recovery ending loc's timeline": "2",
		"pg_control last modified":           ctime(1800000000),
	} {
		if got[k] != v {
			t.Errorf("after patch, %s = %q, want %q", k, got[k], v)
		}
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	compareControlData(t, pgdata, back)
}
