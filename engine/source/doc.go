// Package source defines where a rewind reads the new primary's data
// directory from: a live server over SQL (package remote, pg_rewind's
// --source-server) or a stopped cluster on local disk (package local,
// --source-pgdata).
//
// A Source lists the data directory, reads small whole files (pg_control,
// timeline history files) and fetches ranges of files, handing every chunk
// to a Sink; the target writer's Write method is one:
//
//	err := src.List(ctx, fm.AddSource)
//	...
//	ranges := []source.Range{{Path: "postgresql.conf", Length: 88, Whole: true},
//		{Path: "base/5/16384", Offset: 8192 * 7, Length: 8192}}
//	err = src.Fetch(ctx, ranges, w.Write)
package source
