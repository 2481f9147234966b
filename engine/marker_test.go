package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMarkerPath: the marker sits in the data directory's parent, named
// after it, whatever the spelling of the path.
func TestMarkerPath(t *testing.T) {
	for _, tc := range []struct{ pgdata, want string }{
		{"/var/lib/postgresql/15/main", "/var/lib/postgresql/15/.main.pgrunbook-rewind"},
		{"/var/lib/postgresql/15/main/", "/var/lib/postgresql/15/.main.pgrunbook-rewind"},
		{"/srv/pg/../pg/data", "/srv/pg/.data.pgrunbook-rewind"},
		{"data", ".data.pgrunbook-rewind"},
	} {
		if got := MarkerPath(tc.pgdata); got != tc.want {
			t.Errorf("MarkerPath(%q) = %q, want %q", tc.pgdata, got, tc.want)
		}
	}
}

// TestMaskSource: the marker names the source without its password.
func TestMaskSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"directory", Options{SourceDir: "/src"}, "/src"},
		{"keywords", Options{SourceConninfo: "host=h port=5 user=u password=s3cret dbname=postgres"},
			"host=h port=5 user=u password=xxxxx dbname=postgres"},
		{"quoted password", Options{SourceConninfo: "host=h password='a b\\'c'"}, "host=h password=xxxxx"},
		{"uri", Options{SourceConninfo: "postgresql://u:s3cret@h:5/postgres"}, "postgresql://u:xxxxx@h:5/postgres"},
		{"uri parameter", Options{SourceConninfo: "postgres://u@h/postgres?password=s3cret"}, "postgres://u@h/postgres?password=xxxxx"},
		{"unparsable", Options{SourceConninfo: "host='s3cret"}, "(unparsable connection string)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := maskSource(tc.opts)
			if got != tc.want || strings.Contains(got, "s3cret") {
				t.Errorf("maskSource = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMarkerRoundTrip: a written marker reads back; after removal there
// is none, and that is no error.
func TestMarkerRoundTrip(t *testing.T) {
	pgdata := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(pgdata, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := probeMarkerDir(pgdata); err != nil {
		t.Fatal(err)
	}
	want := &Marker{Started: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), PID: 42, Source: "host=h",
		PGData: pgdata, Phase: MarkerPhaseCopy, StandbySignalAdded: true}
	if err := writeMarker(pgdata, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMarker(pgdata)
	if err != nil || got == nil || *got != *want {
		t.Fatalf("ReadMarker = %+v, %v; want %+v", got, err, want)
	}
	if err := removeMarker(pgdata); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadMarker(pgdata); got != nil || err != nil {
		t.Fatalf("after removal: %+v, %v", got, err)
	}
	if err := os.WriteFile(MarkerPath(pgdata), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMarker(pgdata); err == nil || !strings.Contains(err.Error(), MarkerPath(pgdata)) {
		t.Fatalf("a damaged marker should be an error naming it: %v", err)
	}
}

// TestFencedControl: fencing changes the system identifier bytes only and
// undoes itself.
func TestFencedControl(t *testing.T) {
	image := bytes.Repeat([]byte{1, 2, 3, 4}, 2048)
	fenced := fencedControl(image)
	if bytes.Equal(fenced[:8], image[:8]) || !bytes.Equal(fenced[8:], image[8:]) {
		t.Fatal("the fence should change the first eight bytes and only them")
	}
	if !bytes.Equal(fencedControl(fenced), image) || !bytes.Equal(FencedControl(fenced), image) {
		t.Fatal("fencing twice should give the image back")
	}
}
