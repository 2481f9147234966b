package filemap

import "fmt"

// Action is what the rewind does to one path of the target. The numeric order
// is the execution order: directories and symlinks are created before files
// are copied into them, and removals run last so that a failure half way
// leaves as much of the target as possible.
type Action int

// The actions, in pg_rewind's enum order (which is also the sort order).
const (
	ActionUndecided Action = iota
	// ActionCreate creates a directory or a symbolic link that exists only
	// on the source.
	ActionCreate
	// ActionCopy copies the whole file from the source.
	ActionCopy
	// ActionCopyTail copies the source's bytes beyond the target's size.
	ActionCopyTail
	// ActionNone leaves the path alone (apart from any changed blocks).
	ActionNone
	// ActionTruncate cuts the target file to the source's size.
	ActionTruncate
	// ActionRemove deletes a path that the source does not have.
	ActionRemove
)

var actionNames = [...]string{
	ActionUndecided: "UNDECIDED",
	ActionCreate:    "CREATE",
	ActionCopy:      "COPY",
	ActionCopyTail:  "COPY_TAIL",
	ActionNone:      "NONE",
	ActionTruncate:  "TRUNCATE",
	ActionRemove:    "REMOVE",
}

// String returns the name pg_rewind prints in its --debug file map.
func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// MarshalText renders the action by name, so JSON reports read "COPY".
func (a Action) MarshalText() ([]byte, error) {
	if a < 0 || int(a) >= len(actionNames) {
		return nil, fmt.Errorf("marshal action %d: unknown action", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText parses an action name as written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unmarshal action %q: unknown action", b)
}
