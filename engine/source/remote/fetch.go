package remote

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// Type OIDs the fetch statement's result columns must have.
const (
	oidBytea = 17
	oidInt8  = 20
	oidText  = 25
)

// Fetch reads the ranges and hands every chunk to sink. With one job the
// ranges are fetched in the given order on one connection. With more, the
// ranges are grouped by file and the files dealt out, largest first, to the
// connection with the least work so far; each file's chunks still arrive in
// order from a single goroutine.
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, sink source.Sink) error {
	for _, r := range ranges {
		if r.Whole && r.Offset != 0 {
			return fmt.Errorf("fetch %q: a whole-file range must start at offset 0", r.Path)
		}
	}
	shards := shard(ranges, s.jobs)
	if err := s.ensureConns(ctx, len(shards)); err != nil {
		return err
	}
	if len(shards) == 1 {
		return s.fetchShard(ctx, s.conns[0], shards[0], sink)
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, sh := range shards {
		conn := s.conns[i]
		g.Go(func() error { return s.fetchShard(gctx, conn, sh, sink) })
	}
	return g.Wait()
}

// requestLength is what a range asks of the server. Whole files are asked
// for at least a full chunk: a small file (a configuration file, say) that
// grew after the listing then still arrives complete.
func requestLength(r source.Range) int64 {
	if r.Whole {
		return max(r.Length, MaxChunkSize)
	}
	return r.Length
}

// shard deals the ranges to the job connections by what each asks of
// the server (requestLength: a whole file asks for at least a chunk).
func shard(ranges []source.Range, jobs int) [][]source.Range {
	return source.Shard(ranges, jobs, requestLength)
}

// fetchShard fetches one list of ranges on one connection.
func (s *Source) fetchShard(ctx context.Context, conn *pgx.Conn, ranges []source.Range, sink source.Sink) error {
	b := batcher{flush: func(q []request) error { return s.runBatch(ctx, conn, q, sink) }}
	for _, r := range ranges {
		if err := b.add(r.Path, r.Offset, requestLength(r)); err != nil {
			return err
		}
	}
	return b.finish()
}

// runBatch runs the fetch statement for one queue of requests and checks
// that the server answers them one row each, in order. A short chunk is
// fine (the file shrank; WAL replay repairs it); a NULL chunk means the file
// vanished on the source.
func (s *Source) runBatch(ctx context.Context, conn *pgx.Conn, q []request, sink source.Sink) error {
	s.debugf("getting %d file chunks", len(q))
	paths := make([]string, len(q))
	offsets := make([]int64, len(q))
	lengths := make([]int32, len(q))
	for i, rq := range q {
		paths[i], offsets[i], lengths[i] = rq.path, rq.offset, int32(rq.length)
	}
	rows, err := conn.Query(ctx, fetchStatementName,
		pgx.QueryResultFormats{pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode},
		paths, offsets, lengths)
	if err != nil {
		return s.red.wrap("fetch file chunks", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n >= len(q) {
			return fmt.Errorf("fetch file chunks: received more data chunks than requested")
		}
		rq := q[n]
		n++
		path, off, chunk, err := decodeChunk(rows)
		if err != nil {
			return err
		}
		if path != rq.path {
			return fmt.Errorf("fetch file chunks: received data for file \"%s\", when requested for \"%s\"", path, rq.path)
		}
		if off != rq.offset {
			return fmt.Errorf("fetch file chunks: received data at offset %d of file \"%s\", when requested for offset %d", off, path, rq.offset)
		}
		if chunk == nil {
			s.debugf("received null value for chunk for file \"%s\", file has been deleted", path)
			if err := sink(path, off, nil, true); err != nil {
				return err
			}
			continue
		}
		if int64(len(chunk)) > rq.length {
			return fmt.Errorf("fetch file chunks: received more than requested for file \"%s\"", path)
		}
		s.debugf("received chunk for file \"%s\", offset %d, size %d", path, off, len(chunk))
		if err := sink(path, off, chunk, false); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.red.wrap("fetch file chunks", err)
	}
	if n != len(q) {
		return fmt.Errorf("fetch file chunks: unexpected number of data chunks received: %d of %d", n, len(q))
	}
	return nil
}

// decodeChunk reads one binary result row (text path, int8 offset, bytea
// chunk) without copying the chunk.
func decodeChunk(rows pgx.Rows) (string, int64, []byte, error) {
	fds := rows.FieldDescriptions()
	if len(fds) != 3 {
		return "", 0, nil, fmt.Errorf("fetch file chunks: unexpected result set size: %d columns", len(fds))
	}
	if fds[0].DataTypeOID != oidText || fds[1].DataTypeOID != oidInt8 || fds[2].DataTypeOID != oidBytea {
		return "", 0, nil, fmt.Errorf("fetch file chunks: unexpected data types in result set: %d %d %d",
			fds[0].DataTypeOID, fds[1].DataTypeOID, fds[2].DataTypeOID)
	}
	for _, fd := range fds {
		if fd.Format != pgx.BinaryFormatCode {
			return "", 0, nil, fmt.Errorf("fetch file chunks: unexpected result format")
		}
	}
	vals := rows.RawValues()
	if vals[0] == nil || vals[1] == nil {
		return "", 0, nil, fmt.Errorf("fetch file chunks: unexpected null values in result")
	}
	if len(vals[1]) != 8 {
		return "", 0, nil, fmt.Errorf("fetch file chunks: unexpected result length %d for an int8", len(vals[1]))
	}
	return string(vals[0]), int64(binary.BigEndian.Uint64(vals[1])), vals[2], nil
}
