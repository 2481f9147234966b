package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MarkerSuffix ends the name of the in-progress marker of a rewind.
const MarkerSuffix = ".pgrunbook-rewind"

// Marker phases, in the order a rewind passes them.
const (
	// MarkerPhaseCopy: the target's pg_control was backed up and fenced;
	// files are being changed.
	MarkerPhaseCopy = "copy"
	// MarkerPhaseFinish: the new pg_control is written and synced; only
	// the cleanup (backups, recovery configuration) is left.
	MarkerPhaseFinish = "finish"
)

// Marker is the in-progress record of a rewind, kept outside the data
// directory from before the first change to the target until the rewind
// has finished. It lives outside PGDATA so that nothing the rewind copies
// or removes can touch it, and so that tools that only look at the parent
// (the pg_start step, an operator's ls) see it without reading PGDATA.
type Marker struct {
	// Started is when the interrupted (first) rewind began.
	Started time.Time `json:"started"`
	// PID is the engine process that last wrote the marker.
	PID int `json:"pid"`
	// Source is the source, with any password masked.
	Source string `json:"source"`
	// PGData is the target data directory.
	PGData string `json:"pgdata"`
	// Phase is how far the rewind got (MarkerPhaseCopy, MarkerPhaseFinish).
	Phase string `json:"phase"`
	// StandbySignalAdded says the rewind created standby.signal as a
	// second fence, to be removed again when it succeeds.
	StandbySignalAdded bool `json:"standby_signal_added,omitempty"`
}

// MarkerPath is where the marker of a rewind of pgdata lives: next to the
// data directory, as .<basename>.pgrunbook-rewind in its parent.
func MarkerPath(pgdata string) string {
	clean := filepath.Clean(pgdata)
	return filepath.Join(filepath.Dir(clean), "."+filepath.Base(clean)+MarkerSuffix)
}

// ReadMarker reads the marker of a rewind of pgdata. It returns nil and no
// error when there is none.
func ReadMarker(pgdata string) (*Marker, error) {
	path := MarkerPath(pgdata)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rewind marker %s: %w", path, err)
	}
	var m Marker
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("read rewind marker %s: %w", path, err)
	}
	return &m, nil
}

// writeMarker writes m durably, so that a crash leaves either the old or
// the new marker.
func writeMarker(pgdata string, m *Marker) error {
	path := MarkerPath(pgdata)
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write rewind marker %s: %w", path, err)
	}
	if err := writeDurably(path, append(raw, '\n')); err != nil {
		return fmt.Errorf("write rewind marker %s: %w", path, err)
	}
	return nil
}

// removeMarker removes the marker once the rewind has finished.
func removeMarker(pgdata string) error {
	path := MarkerPath(pgdata)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove rewind marker %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("remove rewind marker %s: %w", path, err)
	}
	return nil
}

// probeMarkerDir checks, before anything changes, that the marker can be
// written: a rewind that could not record itself must not start.
func probeMarkerDir(pgdata string) error {
	path := MarkerPath(pgdata) + ".probe"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("rewind marker directory %s is not writable (the marker of an interrupted rewind goes next to the data directory): %w", filepath.Dir(path), err)
	}
	f.Close()
	return os.Remove(path)
}

// maskSource renders the source for the marker without its password.
func maskSource(opts Options) string {
	if opts.SourceDir != "" {
		return opts.SourceDir
	}
	ci := opts.SourceConninfo
	if strings.HasPrefix(ci, "postgresql://") || strings.HasPrefix(ci, "postgres://") {
		u, err := url.Parse(ci)
		if err != nil {
			return "(unparsable connection URI)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	pairs, err := parseConninfo(ci)
	if err != nil {
		return "(unparsable connection string)"
	}
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		v := p[1]
		if p[0] == "password" {
			v = "xxxxx"
		}
		parts = append(parts, p[0]+"="+quoteConninfoValue(v))
	}
	return strings.Join(parts, " ")
}
