package transport

import (
	"errors"
	"io"
	"sync"
)

// pumps moves a started command's streams, the same way for both
// transports: stdout and stderr are drained at once (they share one flow
// window on SSH, so an unread one would stall the command) into a Result and
// the line callbacks, and stdin is fed framed for the watchdog.
type pumps struct {
	wg             sync.WaitGroup
	res            Result
	outErr, errErr error
	// stdinFailed receives the error of reading the caller's Stdin, which
	// must stop the command rather than leave it waiting for input.
	stdinFailed chan error
}

// startPumps starts moving the streams of cmd's process.
func startPumps(cmd Command, stdin io.Writer, stdout, stderr io.Reader) *pumps {
	p := &pumps{stdinFailed: make(chan error, 1)}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.res.Stdout, p.outErr = drainLines(stdout, cmd.Stdout) }()
	go func() { defer p.wg.Done(); p.res.Stderr, p.errErr = drainLines(stderr, cmd.Stderr) }()
	if cmd.Stdin != nil {
		go func() {
			r := &errReader{r: cmd.Stdin}
			if err := writeFramed(stdin, r); err != nil && r.err != nil {
				p.stdinFailed <- r.err
			}
		}()
	}
	return p
}

// wait returns once stdout and stderr have ended.
func (p *pumps) wait() { p.wg.Wait() }

// readErr is what went wrong reading the output, after wait.
func (p *pumps) readErr() error { return errors.Join(p.outErr, p.errErr) }
