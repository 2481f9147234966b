package pgconf

import (
	"fmt"
	"strings"
)

// File is a parsed configuration file. Its zero value is an empty file.
type File struct {
	// lines are the file's text split at every "\n"; the last element is
	// the text after the final newline ("" for a file that ends with one),
	// so joining them with "\n" gives back the exact input.
	lines []line
}

// line is one line of the file, without its newline.
type line struct {
	text string
	// key is the lower-cased name of the setting an active line sets, and
	// "" for comments, blank lines and lines that do not parse.
	key string
	// valStart and valEnd delimit the value token (quotes included) in
	// text, so that Set can replace just the value.
	valStart, valEnd int
}

// Setting is one active `key = value` line.
type Setting struct {
	// Name is the key as written in the file.
	Name string
	// Value is the value with quotes and escapes resolved.
	Value string
}

// Parse reads data in postgresql.conf syntax. It never fails: a line that
// PostgreSQL would reject is kept verbatim and treated as no setting, so
// that editing a file never loses text.
func Parse(data []byte) *File {
	parts := strings.Split(string(data), "\n")
	f := &File{lines: make([]line, len(parts))}
	for i, p := range parts {
		f.lines[i] = parseLine(p)
	}
	return f
}

// Render returns the file's text. For a File that was not edited it is the
// data Parse was given, byte for byte.
func (f *File) Render() []byte {
	if len(f.lines) == 0 {
		return nil
	}
	var b strings.Builder
	for i, l := range f.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.text)
	}
	return []byte(b.String())
}

// Settings returns the active settings in file order, duplicates included.
func (f *File) Settings() []Setting {
	var out []Setting
	for _, l := range f.lines {
		if l.key != "" {
			out = append(out, Setting{Name: l.name(), Value: Unquote(l.text[l.valStart:l.valEnd])})
		}
	}
	return out
}

// Get returns the value of key's last active occurrence, the one PostgreSQL
// uses, with quotes and escapes resolved.
func (f *File) Get(key string) (value string, ok bool) {
	i := f.last(key)
	if i < 0 {
		return "", false
	}
	l := f.lines[i]
	return Unquote(l.text[l.valStart:l.valEnd]), true
}

// Set makes value the value of key, leaving exactly one active line for it:
// the last occurrence is rewritten in place (spacing and trailing comment
// kept), earlier ones are removed, and a key without an active line is
// appended at the end. It reports whether the text changed; a value equal in
// meaning to the current one (see Equal) changes nothing.
func (f *File) Set(key, value string) (changed bool, err error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	idx := f.active(key)
	if len(idx) == 0 {
		f.append(key + " = " + Quote(value))
		return true, nil
	}
	last := idx[len(idx)-1]
	l := &f.lines[last]
	if !Equal(Unquote(l.text[l.valStart:l.valEnd]), value) {
		q := Quote(value)
		l.text = l.text[:l.valStart] + q + l.text[l.valEnd:]
		l.valEnd = l.valStart + len(q)
		changed = true
	}
	if len(idx) > 1 {
		f.remove(idx[:len(idx)-1])
		changed = true
	}
	return changed, nil
}

// Unset removes every active line of key and reports whether there was one.
// Commented-out lines are left alone.
func (f *File) Unset(key string) (changed bool, err error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	idx := f.active(key)
	f.remove(idx)
	return len(idx) > 0, nil
}

// ValidKey reports whether key can be written as a setting name: an
// identifier, optionally qualified by one dot (`auto_explain.log_min_duration`).
func ValidKey(key string) bool {
	n := scanKey(key, 0)
	return n > 0 && n == len(key)
}

// directives are the keys PostgreSQL reads as include directives rather than
// settings; editing them as settings would change which files are read.
var directives = map[string]bool{"include": true, "include_dir": true, "include_if_exists": true}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("invalid setting name %q", key)
	}
	if directives[strings.ToLower(key)] {
		return fmt.Errorf("%s is an include directive, not a setting", key)
	}
	return nil
}

// name returns the key as written on the line.
func (l line) name() string {
	i := skipSpace(l.text, 0)
	return l.text[i:scanKey(l.text, i)]
}

// active returns the indexes of key's active lines, in file order.
func (f *File) active(key string) []int {
	lk := strings.ToLower(key)
	var idx []int
	for i, l := range f.lines {
		if l.key == lk {
			idx = append(idx, i)
		}
	}
	return idx
}

func (f *File) last(key string) int {
	idx := f.active(key)
	if len(idx) == 0 {
		return -1
	}
	return idx[len(idx)-1]
}

// append adds a line at the end, making sure the file still ends with a
// newline and that an unterminated last line gets terminated first.
func (f *File) append(text string) {
	l := parseLine(text)
	n := len(f.lines)
	if n > 0 && f.lines[n-1].text == "" {
		f.lines = append(f.lines[:n-1], l, line{})
		return
	}
	f.lines = append(f.lines, l, line{})
}

// remove deletes the lines at the ascending indexes idx, with their
// newlines, in one pass. The last element has no newline of its own, so it
// is emptied instead, which keeps the file terminated.
func (f *File) remove(idx []int) {
	if len(idx) == 0 {
		return
	}
	last := len(f.lines) - 1
	kept := f.lines[:0]
	next := 0
	for i, l := range f.lines {
		if next < len(idx) && idx[next] == i {
			next++
			if i == last {
				kept = append(kept, line{})
			}
			continue
		}
		kept = append(kept, l)
	}
	f.lines = kept
}
