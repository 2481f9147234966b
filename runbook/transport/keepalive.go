package transport

import "time"

// keepalive sends a keepalive@openssh.com global request every interval
// and closes the connection after max consecutive requests got no answer
// within an interval. x/crypto/ssh has no keepalive of its own, and without
// one a silently dead peer (host frozen, network partitioned) leaves every
// call on the connection blocked forever; closing the client makes them
// all return. Any answer counts, including the failure reply servers give
// to a request they do not know.
func (c *sshConn) keepalive(interval time.Duration, max int) {
	misses := 0
	var pending chan struct{}
	for {
		if pending == nil {
			reply := make(chan struct{})
			pending = reply
			go func() {
				// SendRequest blocks until an answer comes or the
				// connection closes; either ends this goroutine.
				c.client.SendRequest("keepalive@openssh.com", true, nil)
				close(reply)
			}()
		}
		timer := time.NewTimer(interval)
		select {
		case <-c.done:
			timer.Stop()
			return
		case <-pending:
			pending = nil
			misses = 0
			// Wait out the rest of the interval before the next one.
			select {
			case <-c.done:
				timer.Stop()
				return
			case <-timer.C:
			}
		case <-timer.C:
			misses++
			if misses >= max {
				c.end(unreachable(nil, "%s (%s) stopped answering: %d keepalives unanswered over %s", c.cfg.Name, c.cfg.Addr, misses, time.Duration(misses)*interval))
				return
			}
		}
	}
}
