// Package lsn names positions in the PostgreSQL write-ahead log: log
// sequence numbers (LSN), timeline IDs, WAL segment numbers, and the file
// names the server derives from them.
//
// LSNs print the way PostgreSQL prints them, as two hexadecimal halves:
//
//	p, _ := lsn.Parse("0/3002EB0")
//	fmt.Println(p)                              // 0/3002EB0
//	seg := p.Segment(16 << 20)                  // 3
//	fmt.Println(lsn.SegmentName(1, seg, 16<<20)) // 000000010000000000000003
//
// Parse also accepts the zero-padded form PostgreSQL 18 writes
// ("0/03002EB0"), so history files and function output of every supported
// major version read the same.
package lsn
