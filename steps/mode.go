package steps

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Mode is a file's permission bits. In a playbook it is written in octal,
// as a string ("0600") or a number (0600, 600, 0o600): every spelling is
// read as octal, because a decimal reading of `mode: 600` is never what an
// operator means.
type Mode uint32

// UnmarshalYAML reads an octal mode from a scalar.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("mode must be an octal number such as \"0600\"")
	}
	v, err := ParseMode(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMode parses an octal mode such as "0600", "600" or "0o600".
func ParseMode(s string) (Mode, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if t == "" || len(t) > 5 {
		return 0, fmt.Errorf("invalid mode %q: want an octal number such as \"0600\"", s)
	}
	v, err := strconv.ParseUint(t, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("invalid mode %q: want an octal number such as \"0600\"", s)
	}
	return Mode(v), nil
}

// String returns the mode as four octal digits, as chmod takes it.
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// Duration is a length of time in a playbook: a Go duration string ("60s",
// "1m30s") or a plain number of seconds.
type Duration time.Duration

// UnmarshalYAML reads a duration from a scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("duration must be a scalar such as \"60s\"")
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		if secs < 0 {
			return fmt.Errorf("invalid duration %q: negative", n.Value)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid duration %q: want e.g. \"60s\" or a number of seconds", n.Value)
	}
	*d = Duration(v)
	return nil
}
