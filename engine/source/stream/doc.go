// Package stream carries a rewind's file data from the new primary to the
// engine over one connection, each frame zstd-compressed or raw as the
// link's speed calls for, instead of as bytea rows over SQL.
// The server side (`pgrunbook rewind-serve`) runs as the database OS user
// on the source host and reads its PGDATA; the client side is the engine's
// Fetch. Listings, pg_control, history files and the final insert LSN still
// come over SQL, so pg_rewind's consistency rules hold; only the ranges
// travel here.
//
// # Wire format
//
// A frame is a type byte, a 4-byte big-endian payload length and the
// payload; integers are big-endian, strings are a 2-byte length and the
// bytes. A payload longer than 1 MiB + 64 KiB is refused as garbage.
//
// The client opens with the 8 bytes "PGRBSTR1" and the 32-byte token the
// server printed at start, then a hello frame ('H': protocol version,
// 2 bytes, now 2; then the compression asked for, 1 byte: 0 auto, 1
// always, 2 never). A hello of another version or with an unknown
// compression gets an error frame with code 2. A wrong magic is dropped silently; a wrong token gets an error
// frame with code 1 and is dropped. Otherwise the server answers, still
// uncompressed, with an identity frame ('I': version 2 bytes, system
// identifier 8 bytes from global/pg_control, a byte saying whether
// postmaster.pid exists, the postmaster's start time in Unix seconds 8
// bytes and its port 4 bytes from postmaster.pid, and PGDATA as a string).
// The client compares these with what its SQL connection says before it
// fetches anything.
//
// The client then sends ranges frames ('R': count 4 bytes, at most 512,
// then per range flags 1 byte (1 = whole file), offset 8, length 8, path)
// and an end frame ('E', empty). It does not wait for answers between
// frames. Adjacent ranges of one file are merged before they are sent.
//
// Every frame the server sends after the identity travels in an
// envelope: a kind byte, a 4-byte big-endian body length and the body,
// which holds exactly one frame, as it is (kind 'r') or as one
// independent zstd frame (kind 'z', fastest level, no checksum). A body
// longer than 1 MiB + 128 KiB + 5, an unknown kind, or a body that is not
// exactly one frame is garbage. The server decides the kind per frame:
// it times every write to the connection and every compression, and
// compresses while compressed frames would get through faster than raw
// ones, that is while the connection takes bytes more slowly than the
// compressors (a slow link, an SSH relay); while writes return at once
// (loopback, a fast network) it sends the frames raw and spends no CPU
// on them. Until it has measured both it compresses, and frames under
// 256 bytes always go raw. The client may insist on either kind instead.
// Compressed frames are built concurrently on every CPU and sent in
// order, each complete when sent, so nothing waits in the compressor for
// a flush.
//
// In the envelopes each range is answered, in order, by data frames ('D':
// flags 1 byte, offset 8, path, then the data) of at most 1 MiB; flag 1 marks the last frame of a range, flag 2 a file that
// does not exist (no data, always last) and flag 4 a file the server will
// not open because a symbolic link leads out of PGDATA (the reason instead
// of data, always last; the client fetches it another way, the engine
// over SQL). A whole-file range gets the file
// as it is now, to its end; any other range stops short at the end of the
// file. After the last range comes a done frame ('Z', empty). A failure
// ends the stream with an error frame ('X': code 1 byte (1 token,
// 2 request, 3 read) and the server's text, such as
// "read base/5/1234: permission denied").
//
// The server checks every path with filemap.CheckPath and opens it through
// an os.Root, so nothing outside PGDATA is reachable except through the
// pg_tblspc/<oid> and pg_wal links PostgreSQL makes. It reads ahead while
// the previous pieces are compressed and sent, straight into the buffer
// the frame is built in; a raw frame is sent from that buffer.
//
// # Use
//
// The server:
//
//	token, hexToken, _ := stream.NewToken()
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")
//	fmt.Println(ln.Addr(), hexToken) // rewind-serve prints a JSON line
//	srv := &stream.Server{DataDir: pgdata, Token: token, IdleTimeout: 10 * time.Minute}
//	err := srv.Serve(ctx, ln)
//
// The client:
//
//	c := stream.NewClient("127.0.0.1:7000", token, stream.ClientOptions{Compress: stream.CompressAuto})
//	id, err := c.Identity(ctx) // compare id with the SQL connection's view
//	...
//	err = c.Fetch(ctx, ranges, w.Write)
//	wire := c.Transferred()
package stream
