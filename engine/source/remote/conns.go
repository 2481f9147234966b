package remote

import (
	"context"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// maxOpening bounds how many connections open at once, so that a large
// --jobs does not storm the server's authentication.
const maxOpening = 8

// warmed is the outcome of opening job connections in the background.
type warmed struct {
	conns []*pgx.Conn
	err   error
}

// startWarm opens the jobs-1 further connections in the background: on a
// slow link each costs several round trips (TCP, startup, authentication,
// session settings, statement preparation), which then overlap with the
// listing and the reads of pg_control and the history files.
func (s *Source) startWarm(ctx context.Context) {
	if s.jobs <= 1 {
		return
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.warm, s.stopWarm = make(chan warmed, 1), cancel
	go func() {
		conns, err := s.openConns(wctx, s.jobs-1)
		s.warm <- warmed{conns: conns, err: err}
	}()
}

// takeWarm adopts the background connections, waiting for them unless ctx
// ends first; abandon cancels them and closes what opened. Their error is
// dropped: ensureConns opens again what is missing and reports that.
func (s *Source) takeWarm(ctx context.Context, abandon bool) {
	if s.warm == nil {
		return
	}
	if abandon {
		s.stopWarm()
	}
	var w warmed
	select {
	case w = <-s.warm:
	case <-ctx.Done():
		// Cancelled, the opening ends at once.
		s.stopWarm()
		w = <-s.warm
	}
	s.warm = nil
	s.stopWarm()
	if abandon {
		for _, c := range w.conns {
			c.Close(context.Background())
		}
		return
	}
	s.conns = append(s.conns, w.conns...)
}

// ensureConns makes sure there are n connections, opening the missing ones
// in parallel.
func (s *Source) ensureConns(ctx context.Context, n int) error {
	if len(s.conns) < n {
		s.takeWarm(ctx, false)
	}
	if len(s.conns) >= n {
		return nil
	}
	conns, err := s.openConns(ctx, n-len(s.conns))
	if err != nil {
		return err
	}
	s.conns = append(s.conns, conns...)
	return nil
}

// openConns opens n connections, at most maxOpening at once. On failure it
// closes those that opened and returns the first error, which names the
// server by its redacted connection string.
func (s *Source) openConns(ctx context.Context, n int) ([]*pgx.Conn, error) {
	conns := make([]*pgx.Conn, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxOpening)
	for i := range conns {
		g.Go(func() error {
			c, err := s.connect(gctx, false)
			conns[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background())
			}
		}
		return nil, err
	}
	return conns, nil
}
