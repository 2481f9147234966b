package steps

import (
	"fmt"
	"strconv"
	"strings"

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
