package rewindbench

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// wireToxicType is the toxiproxy toxic type of wireToxic.
const wireToxicType = "pgrunbook_wire"

func init() {
	toxics.Register(wireToxicType, new(wireToxic))
}

// wire is one rewind's use of a proxied link: the proxies it goes through
// (SQL, and the stream's when there is one) and, per direction, the
// bandwidth they share and the bytes they carried.
//
// toxiproxy's own bandwidth toxic limits each connection by itself, so
// `--jobs 4` would get four times the link, and a stream next to its SQL
// connection twice; a real 100 Mbit/s link is shared, hence this toxic.
type wire struct {
	id       string
	link     link
	down, up *wireDirection
	proxies  []*toxiproxy.Proxy
}

// wireDirection is one direction of a wire: a link that sends one chunk
// at a time at rate, and counts what it sent.
type wireDirection struct {
	// rate is in bytes per second; 0 is unlimited.
	rate  int64
	bytes atomic.Int64

	mu sync.Mutex
	// free is when the link has sent everything reserved so far.
	free time.Time
}

// wireCredit is how far the link's schedule may lag behind the clock: a
// sender woken a little late by the timer (or handing its chunk on) does
// not lose that time, as it would if every chunk after a pause restarted
// the schedule; an idle link banks no more than this.
const wireCredit = 2 * time.Millisecond

// reserve books n bytes on the direction at now and returns how long the
// caller waits until they are through: chunks of every connection queue
// behind one another, as on one physical link.
func (d *wireDirection) reserve(n int, now time.Time) time.Duration {
	d.bytes.Add(int64(n))
	if d.rate <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if earliest := now.Add(-wireCredit); d.free.Before(earliest) {
		d.free = earliest
	}
	d.free = d.free.Add(time.Duration(int64(n) * int64(time.Second) / d.rate))
	return d.free.Sub(now)
}

var (
	wiresMu sync.Mutex
	// wires maps "<wire id>/<up|down>" to the direction a wireToxic
	// uses: toxiproxy builds toxics from JSON, so a name is all it can
	// carry.
	wires  = map[string]*wireDirection{}
	wireID int

	proxyServerOnce sync.Once
	proxyServer     *toxiproxy.ApiServer
)

// newWire prepares a fresh wire over l; its proxies come from proxy.
func newWire(l link) *wire {
	wiresMu.Lock()
	defer wiresMu.Unlock()
	wireID++
	w := &wire{
		id:   fmt.Sprintf("wire%d", wireID),
		link: l,
		down: &wireDirection{rate: l.rateKBps * 1000},
		up:   &wireDirection{rate: l.rateKBps * 1000},
	}
	wires[w.id+"/down"] = w.down
	wires[w.id+"/up"] = w.up
	return w
}

// proxy starts a toxiproxy proxy on a free 127.0.0.1 port to upstream
// (HOST:PORT) with the link's toxics and returns its address.
func (w *wire) proxy(name, upstream string) (string, error) {
	proxyServerOnce.Do(func() {
		proxyServer = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	})
	p := toxiproxy.NewProxy(proxyServer, w.id+"-"+name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("start proxy %s to %s: %w", name, upstream, err)
	}
	w.proxies = append(w.proxies, p)
	var specs []string
	for _, dir := range []struct{ stream, key string }{{"downstream", "down"}, {"upstream", "up"}} {
		if w.link.latencyMS > 0 {
			specs = append(specs, fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`,
				dir.stream, dir.stream, w.link.latencyMS))
		}
		specs = append(specs, fmt.Sprintf(`{"name":"wire_%s","type":%q,"stream":%q,"attributes":{"wire":%q}}`,
			dir.stream, wireToxicType, dir.stream, w.id+"/"+dir.key))
	}
	for _, spec := range specs {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			return "", fmt.Errorf("add toxic %s to proxy %s: %w", spec, name, err)
		}
	}
	return p.Listen, nil
}

// bytes is what crossed the wire in both directions so far.
func (w *wire) bytes() int64 {
	return w.down.bytes.Load() + w.up.bytes.Load()
}

// close stops the wire's proxies and forgets it.
func (w *wire) close() {
	for _, p := range w.proxies {
		p.Stop()
	}
	wiresMu.Lock()
	defer wiresMu.Unlock()
	delete(wires, w.id+"/down")
	delete(wires, w.id+"/up")
}

// wireToxic passes chunks through one direction of a wire: it counts them
// and holds each until the shared link has sent it.
type wireToxic struct {
	// Wire is the wires key of the direction.
	Wire string `json:"wire"`
}

// Pipe moves chunks from the stub's input to its output until the
// connection closes or toxiproxy interrupts the toxic.
func (t *wireToxic) Pipe(stub *toxics.ToxicStub) {
	wiresMu.Lock()
	d := wires[t.Wire]
	wiresMu.Unlock()
	if d == nil {
		// A wire closed under a live connection: pass it through
		// unchanged rather than hang it.
		d = &wireDirection{}
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if wait := d.reserve(len(c.Data), time.Now()); wait > 0 {
				select {
				case <-time.After(wait):
				case <-stub.Interrupt:
					stub.Output <- c
					return
				}
			}
			stub.Output <- c
		}
	}
}
