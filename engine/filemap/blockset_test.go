package filemap

import (
	"reflect"
	"testing"
)

func TestBlockSet(t *testing.T) {
	var s BlockSet
	for _, b := range []uint32{131071, 5, 0, 64, 63, 5, 200} {
		s.Add(b)
	}
	want := []uint32{0, 5, 63, 64, 200, 131071}
	if got := s.Blocks(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Blocks() = %v, want %v", got, want)
	}
	if s.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", s.Len(), len(want))
	}
	for _, b := range want {
		if !s.Contains(b) {
			t.Errorf("Contains(%d) = false", b)
		}
	}
	for _, b := range []uint32{1, 62, 65, 131070, 1 << 30} {
		if s.Contains(b) {
			t.Errorf("Contains(%d) = true", b)
		}
	}
	var empty BlockSet
	if len(empty.Blocks()) != 0 || empty.Len() != 0 {
		t.Fatal("empty set is not empty")
	}
}
