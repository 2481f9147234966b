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

// The login shell runs the watchdog program itself, so it must work under
// bash, the other usual login shell, as under dash.

func TestLocalExecUnderBash(t *testing.T) {
	requireRoot(t)
	cases := execCases()
	for i := range cases {
		if cases[i].name == "not found" {
			// bash's wording.
			cases[i].stderrHas = "/nonexistent/program: No such file or directory"
		}
	}
	runCases(t, localConn{shell: "/bin/bash"}, cases)
}

func TestLocalCancelKillsUnderBash(t *testing.T) {
	requireRoot(t)
	testCancelKills(t, localConn{shell: "/bin/bash"})
}
