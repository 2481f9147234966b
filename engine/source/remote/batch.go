package remote

// Limits of one fetch query, as in pg_rewind: chunks of at most 1 MiB and at
// most 1000 chunks, so a round trip carries at most about 1 GiB.
const (
	MaxChunkSize      = 1 << 20
	MaxChunksPerQuery = 1000
)

// request is one chunk asked of the server.
type request struct {
	path   string
	offset int64
	length int64
}

// batcher queues chunk requests and runs a query whenever the queue is full.
type batcher struct {
	queue []request
	flush func([]request) error
}

// add queues [offset, offset+length) of path. A range that continues the
// previous request of the same file is merged into it up to the chunk
// size, so consecutive changed blocks travel as one chunk.
func (b *batcher) add(path string, offset, length int64) error {
	if n := len(b.queue); n > 0 {
		prev := &b.queue[n-1]
		if prev.path == path && prev.offset+prev.length == offset && prev.length < MaxChunkSize {
			take := min(length, MaxChunkSize-prev.length)
			prev.length += take
			offset += take
			length -= take
		}
	}
	for length > 0 {
		if len(b.queue) == MaxChunksPerQuery {
			if err := b.finish(); err != nil {
				return err
			}
		}
		take := min(length, MaxChunkSize)
		b.queue = append(b.queue, request{path: path, offset: offset, length: take})
		offset += take
		length -= take
	}
	return nil
}

// finish runs the queued requests, if any.
func (b *batcher) finish() error {
	if len(b.queue) == 0 {
		return nil
	}
	q := b.queue
	b.queue = nil
	return b.flush(q)
}
