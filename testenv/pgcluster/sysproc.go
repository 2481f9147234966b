package pgcluster

import "syscall"

// sysProcAttr runs a child with cred (nil: as this process). Setpgid keeps
// a test's Ctrl-C, sent to the foreground process group, from reaching
// servers mid-shutdown; the context still kills the child itself.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
