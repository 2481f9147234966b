package pgcontrol

// WalLevel is the wal_level setting recorded in pg_control.
type WalLevel int32

// The wal_level values, in PostgreSQL's numbering.
const (
	WalLevelMinimal WalLevel = 0
	WalLevelReplica WalLevel = 1
	WalLevelLogical WalLevel = 2
)

// String returns the setting's name as pg_controldata prints it.
func (w WalLevel) String() string {
	switch w {
	case WalLevelMinimal:
		return "minimal"
	case WalLevelReplica:
		return "replica"
	case WalLevelLogical:
		return "logical"
	}
	return "unrecognized wal_level"
}
