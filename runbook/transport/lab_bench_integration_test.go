package transport

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv"
)

// labHosts is the number of lab hosts the lab benchmarks run on side by
// side, as the executor does with -f 4.
const labHosts = 4

// labBench is a lab with a warm connection to each host.
type labBench struct {
	conns []*sshConn
	// sshdPIDs are the hosts' listening sshds: everything a session costs
	// on a host is spent in their descendants.
	sshdPIDs []int
}

// dialLab brings up a lab of labHosts hosts and returns a warm connection
// to each.
func dialLab(b *testing.B) *labBench {
	b.Helper()
	lab := testenv.ForTest(b, testenv.Spec{Hosts: labHosts})
	lb := &labBench{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]*sshConn, len(lab.Hosts))
	for i, h := range lab.Hosts {
		c, err := DialSSH(ctx, SSHConfig{
			Name: h.Name, Addr: h.SSHAddr(), User: testenv.LoginUser,
			KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		conns[i] = c.(*sshConn)
		pidText, err := os.ReadFile(filepath.Join(h.Dirs.Root, "sshd.pid"))
		if err != nil {
			b.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
		if err != nil {
			b.Fatal(err)
		}
		lb.sshdPIDs = append(lb.sshdPIDs, pid)
	}
	lb.conns = conns
	return lb
}

// serverCPU returns the CPU time spent so far by the sessions of the lab's
// sshds: the live descendants of each listener (the per-connection
// monitor and its unprivileged child) with the children they reaped (every
// session's shell and commands). Per command it does not depend on how
// loaded the machine is, unlike the wall time.
func (lb *labBench) serverCPU() time.Duration {
	procs := map[int]testenv.ProcessStat{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := testenv.ReadProcessStat(pid); err == nil {
			procs[pid] = st
		}
	}
	roots := map[int]bool{}
	for _, p := range lb.sshdPIDs {
		roots[p] = true
	}
	var total time.Duration
	for _, p := range procs {
		for q := p.PPID; q > 1; q = procs[q].PPID {
			if roots[q] {
				total += p.CPU
				break
			}
		}
	}
	return total
}

// clientCPU returns the CPU time this process has spent so far.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runOnAll calls fn b.N times on every connection, the connections side by
// side, and reports the wall time per call per host.
func runOnAll(b *testing.B, lb *labBench, fn func(c *sshConn) error) {
	b.Helper()
	conns := lb.conns
	// One warm-up call per host: page cache, sshd's first session.
	for _, c := range conns {
		if err := fn(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	server, client := lb.serverCPU(), clientCPU()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < b.N; i++ {
				if err := fn(c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The client's CPU first: scanning /proc for the server's is not the
	// client's cost.
	client = clientCPU() - client
	server = lb.serverCPU() - server
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/cmd/host")
	cmds := float64(b.N * len(conns))
	b.ReportMetric(float64(server.Microseconds())/1000/cmds, "server-cpu-ms/cmd")
	b.ReportMetric(float64(client.Microseconds())/1000/cmds, "client-cpu-ms/cmd")
}

// BenchmarkLabSessionFloor is the floor under every step: a bare
// x/crypto/ssh session running `true` (channel open, exec request, sshd
// forking the login shell, exit status, close) on four lab hosts at once.
func BenchmarkLabSessionFloor(b *testing.B) {
	runOnAll(b, dialLab(b), func(c *sshConn) error {
		s, err := c.client.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Run("true")
	})
}

// BenchmarkLabExecNoop is what Exec adds on top of the floor: `true` run
// through Exec (watchdog and all) on four lab hosts at once.
func BenchmarkLabExecNoop(b *testing.B) {
	runOnAll(b, dialLab(b), func(c *sshConn) error {
		_, err := c.Exec(context.Background(), Command{Argv: []string{"true"}})
		return err
	})
}

// BenchmarkLabExecBecome is a no-op step as most real steps run: as
// postgres, through sudo.
func BenchmarkLabExecBecome(b *testing.B) {
	runOnAll(b, dialLab(b), func(c *sshConn) error {
		_, err := c.Exec(context.Background(), Command{Argv: []string{"true"}, Become: "postgres"})
		return err
	})
}

// BenchmarkLabExecBastion is a no-op step under become on four lab hosts
// behind a bastion, as the rejoin runs its steps: with the connection to
// the bastion acknowledging at once (quickAck) and with the kernel's
// delayed acknowledgements, which made the bastion's sshd hold every exit
// status for up to 40 ms.
func BenchmarkLabExecBastion(b *testing.B) {
	lab := testenv.ForTest(b, testenv.Spec{Hosts: labHosts, Bastion: true})
	for _, tt := range []struct {
		name    string
		delayed bool
	}{{"quickack", false}, {"delayed-ack", true}} {
		b.Run(tt.name, func(b *testing.B) {
			delayedAcks = tt.delayed
			defer func() { delayedAcks = false }()
			lb := &labBench{sshdPIDs: []int{sshdPID(b, lab.Bastion)}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, h := range lab.Hosts {
				cfg := SSHConfig{Name: h.Name, Addr: h.SSHAddr(), User: testenv.LoginUser,
					KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts},
					Bastion: &SSHConfig{Name: lab.Bastion.Name, Addr: lab.Bastion.SSHAddr(), User: testenv.LoginUser,
						KeyFiles: []string{lab.Key}, KnownHosts: []string{lab.KnownHosts}}}
				c, err := DialSSH(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				lb.conns = append(lb.conns, c.(*sshConn))
				lb.sshdPIDs = append(lb.sshdPIDs, sshdPID(b, h))
			}
			runOnAll(b, lb, func(c *sshConn) error {
				_, err := c.Exec(context.Background(), Command{Argv: []string{"true"}, Become: "postgres"})
				return err
			})
		})
	}
}

// sshdPID is the pid of h's listening sshd.
func sshdPID(b *testing.B, h *testenv.Host) int {
	b.Helper()
	text, err := os.ReadFile(filepath.Join(h.Dirs.Root, "sshd.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(text)))
	if err != nil {
		b.Fatal(err)
	}
	return pid
}
