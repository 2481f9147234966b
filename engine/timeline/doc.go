// Package timeline reads PostgreSQL timeline history files and finds where
// two clusters' histories part.
//
// Every promotion starts a new timeline N and writes pg_wal/<N>.history,
// which lists each ancestor timeline with the LSN at which the cluster left
// it. Parse turns such a file into a History: one Entry per timeline, oldest
// first, each covering [Begin, End), ending with the file's own timeline,
// whose End is 0 ("still open"). Timeline 1 has no file; Single(1) stands in.
//
//	src, _ := timeline.Parse("00000002.history", data, 2)
//	tgt := timeline.Single(1)
//	at, idx, err := timeline.FindDivergence(src, tgt)
//	// at = the switch point, idx = 0 (timeline 1 is the last common one)
//
// An End (or Begin) of 0 means infinity: it is the LSN zero value, used the
// way PostgreSQL uses InvalidXLogRecPtr in its history arrays.
package timeline
