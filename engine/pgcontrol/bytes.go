package pgcontrol

import (
	"encoding/binary"
	"math"

	"github.com/pgrunbook/pgrunbook/engine/layout"
)

// field reads and writes little-endian values at layout offsets. Offsets of
// fields a version lacks are layout.Absent; reads give zero and writes do
// nothing, so one code path serves every major.
type field []byte

func (b field) u32(off int) uint32 {
	if off == layout.Absent {
		return 0
	}
	return binary.LittleEndian.Uint32(b[off:])
}

func (b field) u64(off int) uint64 {
	if off == layout.Absent {
		return 0
	}
	return binary.LittleEndian.Uint64(b[off:])
}

func (b field) boolean(off int) bool {
	if off == layout.Absent {
		return false
	}
	return b[off] != 0
}

func (b field) f64(off int) float64 {
	return math.Float64frombits(b.u64(off))
}

func (b field) putU32(off int, v uint32) {
	if off != layout.Absent {
		binary.LittleEndian.PutUint32(b[off:], v)
	}
}

func (b field) putU64(off int, v uint64) {
	if off != layout.Absent {
		binary.LittleEndian.PutUint64(b[off:], v)
	}
}

// putBool writes a C bool. A nonzero byte other than 1 already means true,
// so it is left alone to keep the image byte-identical.
func (b field) putBool(off int, v bool) {
	if off == layout.Absent || (b[off] != 0) == v {
		return
	}
	if v {
		b[off] = 1
	} else {
		b[off] = 0
	}
}

func (b field) putF64(off int, v float64) {
	b.putU64(off, math.Float64bits(v))
}
