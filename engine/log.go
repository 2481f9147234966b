package engine

import (
	"bytes"
	"fmt"
)

// Level is how important a message is; the command line decides which
// levels it shows, as pg_rewind does with -P and --debug.
type Level int

// The message levels.
const (
	// LevelDebug messages are shown with --debug: timeline histories,
	// exclusions, the file map, fetch details.
	LevelDebug Level = iota
	// LevelProgress messages are shown with -P: the phases of the run.
	LevelProgress
	// LevelInfo messages are always shown: the divergence point, the
	// checkpoint, "no rewind required", "Done!".
	LevelInfo
)

// Logger receives one message (without a trailing newline) at a level.
type Logger func(level Level, msg string)

func (r *run) logf(level Level, format string, args ...any) {
	if r.opts.Log != nil {
		r.opts.Log(level, fmt.Sprintf(format, args...))
	}
}

func (r *run) infof(format string, args ...any)     { r.logf(LevelInfo, format, args...) }
func (r *run) progressf(format string, args ...any) { r.logf(LevelProgress, format, args...) }
func (r *run) debugf(format string, args ...any)    { r.logf(LevelDebug, format, args...) }

// debugLines is an io.Writer that logs each line written to it at debug
// level, for dumps that are produced by writers (the file map).
type debugLines struct {
	r   *run
	buf []byte
}

func (d *debugLines) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		d.r.debugf("%s", d.buf[:i])
		d.buf = d.buf[i+1:]
	}
}
