package target

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentWrites writes distinct ranges of more files than the handle
// cache holds from several goroutines, as a parallel fetch does.
func TestConcurrentWrites(t *testing.T) {
	root := newDataDir(t, 0o700)
	w, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const files, chunks, size = maxOpenFiles * 2, 16, 512
	var wg sync.WaitGroup
	errs := make(chan error, files*chunks)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for c := chunks - 1; c >= 0; c-- {
				for f := g; f < files; f += 4 {
					data := bytes.Repeat([]byte{byte('a' + c)}, size)
					if err := w.Write(fmt.Sprintf("global/f%d", f), int64(c*size), data, false); err != nil {
						errs <- err
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for f := 0; f < files; f++ {
		got, err := os.ReadFile(filepath.Join(root, "global", fmt.Sprintf("f%d", f)))
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < chunks; c++ {
			if want := bytes.Repeat([]byte{byte('a' + c)}, size); !bytes.Equal(got[c*size:(c+1)*size], want) {
				t.Fatalf("file %d chunk %d corrupted", f, c)
			}
		}
	}
}
