package filemap

import "fmt"

// Defaults of a stock PostgreSQL build, used when Config leaves them zero.
const (
	DefaultBlockSize  = 8192
	DefaultRelSegSize = 131072 // blocks per relation segment: 1 GiB
)

// Config describes the server build the map is for.
type Config struct {
	// Major is the PostgreSQL major version (15) and CatVersion its catalog
	// version (202209061); together they name tablespace subdirectories.
	Major      int
	CatVersion uint32
	// BlockSize is BLCKSZ and RelSegSize the blocks per segment file, both
	// from pg_control; zero means the default.
	BlockSize  int64
	RelSegSize uint32
	// Debugf, when set, receives the --debug messages pg_rewind prints
	// while deciding (exclusions, kept WAL segments).
	Debugf func(format string, args ...any)
	// Trim, when set, leaves out the source files recovery of the rewound
	// target never reads (see Trim); nil decides exactly as pg_rewind 15.
	Trim *Trim
}

// Map collects both listings, the changed blocks and the kept WAL segments,
// and decides the action per path. It is not safe for concurrent use.
type Map struct {
	cfg     Config
	entries map[string]*FileEntry
	keepWAL map[string]bool
	decided []*FileEntry
	// lastBlock caches AddBlock's last file lookup; adding an entry
	// forgets it.
	lastBlock blockCache
}

// New returns an empty map for the given server build.
func New(cfg Config) *Map {
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.RelSegSize == 0 {
		cfg.RelSegSize = DefaultRelSegSize
	}
	return &Map{cfg: cfg, entries: make(map[string]*FileEntry), keepWAL: make(map[string]bool)}
}

// Config returns the configuration the map was built with, defaults filled.
func (m *Map) Config() Config { return m.cfg }

func (m *Map) debugf(format string, args ...any) {
	if m.cfg.Debugf != nil {
		m.cfg.Debugf(format, args...)
	}
}

func (m *Map) entry(path string) *FileEntry {
	e := m.entries[path]
	if e == nil {
		e = &FileEntry{Path: path, IsRelFile: IsRelDataFile(path, m.cfg.Major, m.cfg.CatVersion)}
		m.entries[path] = e
		m.lastBlock = blockCache{}
	}
	return e
}

// normalizeType treats a pg_wal symlink as a directory on either side, so a
// pg_wal moved elsewhere on only one side is not a type conflict and the
// link itself is never touched.
func normalizeType(f File) FileType {
	if f.Path == "pg_wal" && f.Type == TypeSymlink {
		return TypeDirectory
	}
	return f.Type
}

// AddSource records one entry of the source listing. It refuses unsafe
// paths, a relation data file that is not a regular file, and a path listed
// twice. Its signature fits a source's listing callback.
func (m *Map) AddSource(f File) error {
	if err := CheckPath(f.Path); err != nil {
		return fmt.Errorf("source file list: %w", err)
	}
	typ := normalizeType(f)
	if typ != TypeRegular && IsRelDataFile(f.Path, m.cfg.Major, m.cfg.CatVersion) {
		return fmt.Errorf("data file \"%s\" in source is not a regular file", f.Path)
	}
	e := m.entry(f.Path)
	if e.Source.Exists {
		return fmt.Errorf("duplicate source file \"%s\"", f.Path)
	}
	e.Source = Side{Exists: true, Type: typ, Size: f.Size, LinkTarget: f.LinkTarget}
	m.decided = nil
	return nil
}

// AddTarget records one entry of the target listing. No exclusion applies
// here: excluded paths that exist on the target are removed by Decide.
func (m *Map) AddTarget(f File) error {
	if err := CheckPath(f.Path); err != nil {
		return fmt.Errorf("target file list: %w", err)
	}
	e := m.entry(f.Path)
	if e.Target.Exists {
		return fmt.Errorf("duplicate target file \"%s\"", f.Path)
	}
	e.Target = Side{Exists: true, Type: normalizeType(f), Size: f.Size, LinkTarget: f.LinkTarget}
	m.decided = nil
	return nil
}

// KeepWAL marks a target WAL segment (its path, "pg_wal/<name>") as needed
// for recovery, so that it is not removed even though the source lacks it.
func (m *Map) KeepWAL(path string) {
	m.keepWAL[path] = true
}

// Lookup returns the entry for path, or nil.
func (m *Map) Lookup(path string) *FileEntry { return m.entries[path] }

// Len is the number of distinct paths seen on either side.
func (m *Map) Len() int { return len(m.entries) }
