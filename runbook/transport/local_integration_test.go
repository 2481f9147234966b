package transport

import "testing"

// These run the local transport for real: sudo to postgres and process
// groups on this machine, so they need root.

func TestLocalExec(t *testing.T) {
	requireRoot(t)
	runExecCases(t, NewLocal())
}

func TestLocalCancelKills(t *testing.T) {
	requireRoot(t)
	testCancelKills(t, NewLocal())
}
