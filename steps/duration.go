package steps

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

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
