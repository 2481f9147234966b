package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

// How a rewind's file data travels, as the report's transfer says.
const (
	TransferSQL    = "sql"
	TransferStream = "stream"
	TransferLocal  = "local"
)

// Option errors of the compressed stream.
var (
	ErrStreamNeedsServer = errors.New("--source-stream needs --source-server: listings and pg_control still come over SQL")
	ErrStreamNoToken     = errors.New("--source-stream needs the stream server's token (--source-stream-token-file)")
)

// validateStream checks the stream options; it runs after pg_rewind's own
// checks.
func (o Options) validateStream() error {
	switch {
	case o.SourceStream == "":
		return nil
	case o.SourceConninfo == "":
		return ErrStreamNeedsServer
	case o.SourceStreamToken == "":
		return ErrStreamNoToken
	}
	return nil
}

// transfer is how this rewind's file data travels.
func (o Options) transfer() string {
	switch {
	case o.SourceDir != "":
		return TransferLocal
	case o.SourceStream != "":
		return TransferStream
	}
	return TransferSQL
}

// streamSource is a running source read over SQL for everything but the
// file ranges, which come from a rewind-serve on the source host.
type streamSource struct {
	source.Source
	client *stream.Client
}

// Fetch reads the ranges over the stream.
func (s *streamSource) Fetch(ctx context.Context, ranges []source.Range, sink source.Sink) error {
	return s.client.Fetch(ctx, ranges, sink)
}

// Close closes the SQL connections and the stream's open connection.
func (s *streamSource) Close(ctx context.Context) error {
	return errors.Join(s.Source.Close(ctx), s.client.Close())
}

// attachStream puts the stream in front of the SQL source's Fetch, once
// the stream server has taken the token and proved it serves the cluster
// the SQL connection reaches. Nothing in the target has changed yet, so a
// refusal leaves it as it was.
func (r *run) attachStream(ctx context.Context) error {
	token, err := stream.ParseToken(r.opts.SourceStreamToken)
	if err != nil {
		return fmt.Errorf("stream server at %s: %w", r.opts.SourceStream, err)
	}
	// A file behind a link out of the source's PGDATA (other than a
	// tablespace's or pg_wal) is refused by the stream server, which
	// reads nothing outside PGDATA; pg_rewind reads it over SQL, and so
	// does the fallback.
	sql := r.src
	client := stream.NewClient(r.opts.SourceStream, token, stream.ClientOptions{
		Debugf: r.debugf, Jobs: r.opts.Jobs, Fallback: sql.Fetch, Compress: r.opts.SourceStreamCompress,
	})
	id, err := client.Identity(ctx)
	if err != nil {
		return err
	}
	if err := r.checkStreamIdentity(ctx, id); err != nil {
		client.Close()
		return err
	}
	r.src = &streamSource{Source: r.src, client: client}
	r.progressf("connected to stream server at %s", r.opts.SourceStream)
	return nil
}

// reportTransfer fills the report's transfer and bytes_transferred.
func (r *run) reportTransfer() {
	r.rep.Transfer = r.opts.transfer()
	switch r.rep.Transfer {
	case TransferSQL:
		r.rep.BytesTransferred = r.rep.BytesFetched
	case TransferStream:
		if s, ok := r.src.(*streamSource); ok {
			r.rep.BytesTransferred = s.client.Transferred()
		}
	}
}
