package pgcontrol

import "hash/crc32"

// castagnoli is the CRC-32C table; PostgreSQL's pg_crc32c is the standard
// Castagnoli CRC with initial and final inversion, which crc32.Checksum does.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum returns the CRC of pg_control as PostgreSQL computes it: over
// every byte before the crc field.
func checksum(image []byte, crcOffset int) uint32 {
	return crc32.Checksum(image[:crcOffset], castagnoli)
}
