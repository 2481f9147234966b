package layout

import "github.com/pgrunbook/pgrunbook/engine/lsn"

// TimelineRule says which timeline a cluster is on, judged from its control
// file.
type TimelineRule int

const (
	// TimelineFromCheckpoint is the rule up to 15: the timeline of the
	// latest checkpoint. A freshly promoted server still reports its old
	// timeline until its first checkpoint completes.
	TimelineFromCheckpoint TimelineRule = iota
	// TimelineMaxWithMinRecovery is the rule from 16 on: the larger of the
	// checkpoint's timeline and minRecoveryPointTLI, which also covers a
	// just-promoted or cascading standby source.
	TimelineMaxWithMinRecovery
)

// Of applies the rule to a control file's checkpoint timeline and its
// minRecoveryPointTLI.
func (r TimelineRule) Of(checkpointTLI, minRecoveryTLI lsn.TimeLineID) lsn.TimeLineID {
	if r == TimelineMaxWithMinRecovery && minRecoveryTLI > checkpointTLI {
		return minRecoveryTLI
	}
	return checkpointTLI
}
