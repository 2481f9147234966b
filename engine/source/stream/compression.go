package stream

import "fmt"

// Compression says how the server compresses the frames it sends: the
// client asks for it in its hello.
type Compression byte

const (
	// CompressAuto lets the server decide frame by frame: compressed
	// while the connection is slower than the compressors, raw while it
	// keeps up with reading the files.
	CompressAuto Compression = 0
	// CompressAlways compresses every frame.
	CompressAlways Compression = 1
	// CompressNever sends every frame raw.
	CompressNever Compression = 2
)

// String is the name ParseCompression reads.
func (c Compression) String() string {
	switch c {
	case CompressAuto:
		return "auto"
	case CompressAlways:
		return "always"
	case CompressNever:
		return "never"
	}
	return fmt.Sprintf("compression(%d)", byte(c))
}

// ParseCompression reads "auto", "always" or "never"; the empty string is
// auto.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "", "auto":
		return CompressAuto, nil
	case "always":
		return CompressAlways, nil
	case "never":
		return CompressNever, nil
	}
	return 0, fmt.Errorf("stream compression %q: want auto, always or never", s)
}

func (c Compression) valid() bool { return c <= CompressNever }
