package wal

import "fmt"

// rmgrNames are the built-in resource managers in ID order, named as
// pg_waldump names them.
var rmgrNames = []string{
	"XLOG", "Transaction", "Storage", "CLOG", "Database", "Tablespace", "MultiXact", "RelMap",
	"Standby", "Heap2", "Heap", "Btree", "Hash", "Gin", "Gist", "Sequence", "SPGist", "BRIN",
	"CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage",
}

// RmgrName returns the name of resource manager id, as pg_waldump prints
// it; custom resource managers are "custom###".
func RmgrName(id uint8) string {
	if int(id) < len(rmgrNames) {
		return rmgrNames[id]
	}
	return fmt.Sprintf("custom%03d", id)
}
