package ctr

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
)

// The owner takes chunks from the front while thieves take them from the
// back: every chunk must be claimed exactly once.
func TestSegmentClaimsEachChunkOnce(t *testing.T) {
	const chunks = 20000
	var g segment
	g.set(0, chunks)
	claims := make([][]int, 4)
	var wg sync.WaitGroup
	for k := range claims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			take := g.takeFront
			if k%2 == 1 {
				take = g.takeBack
			}
			for i := take(); i >= 0; i = take() {
				claims[k] = append(claims[k], i)
			}
		}()
	}
	wg.Wait()
	seen := make([]int, chunks)
	for _, cs := range claims {
		for _, i := range cs {
			seen[i]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("chunk %d claimed %d times", i, n)
		}
	}
	if g.takeFront() != -1 || g.takeBack() != -1 {
		t.Fatal("an empty segment still hands out chunks")
	}
}

// With one processor there is nobody to help: the call runs on the caller.
func TestParallelPathWithOneProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	key, iv := randomBytes(t, 16), randomBytes(t, IVSize)
	s, err := New(AES128CTR, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	src := randomBytes(t, 1<<20)
	got := make([]byte, len(src))
	s.XORKeyStreamAt(got, src, 9)
	if want := referenceXOR(t, AES128CTR, key, iv, 9, src); !bytes.Equal(got, want) {
		t.Fatal("mismatch with GOMAXPROCS=1")
	}
}
