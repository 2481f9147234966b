package pgcontrol

// DBState is the cluster state recorded in pg_control (enum DBState).
type DBState int32

// The states, in PostgreSQL's numbering.
const (
	StartingUp         DBState = 0
	ShutDown           DBState = 1
	ShutDownInRecovery DBState = 2
	ShuttingDown       DBState = 3
	InCrashRecovery    DBState = 4
	InArchiveRecovery  DBState = 5
	InProduction       DBState = 6
)

// String returns the wording pg_controldata prints for the state, which
// scripts compare against ("shut down", "in production", ...).
func (s DBState) String() string {
	switch s {
	case StartingUp:
		return "starting up"
	case ShutDown:
		return "shut down"
	case ShutDownInRecovery:
		return "shut down in recovery"
	case ShuttingDown:
		return "shutting down"
	case InCrashRecovery:
		return "in crash recovery"
	case InArchiveRecovery:
		return "in archive recovery"
	case InProduction:
		return "in production"
	}
	return "unrecognized status code"
}

// CleanlyShutDown reports whether a cluster in this state can be rewound
// without crash recovery first.
func (s DBState) CleanlyShutDown() bool {
	return s == ShutDown || s == ShutDownInRecovery
}
