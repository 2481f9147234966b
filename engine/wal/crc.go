package wal

import "hash/crc32"

// castagnoli is the CRC-32C table; PostgreSQL's pg_crc32c matches Go's
// Castagnoli CRC including the initial and final inversion.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC computes a record's checksum as PostgreSQL does: over the
// payload after the 24-byte header first, then over the header up to (not
// including) the crc field.
func recordCRC(rec []byte) uint32 {
	c := crc32.Update(0, castagnoli, rec[recordHeaderSize:])
	return crc32.Update(c, castagnoli, rec[:crcOffset])
}
