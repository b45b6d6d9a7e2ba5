package ctr

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// The caller's wait ends exactly when the last chunk does, whether that
// chunk ends while the caller polls or after it has gone to sleep, and it
// leaves no wake-up behind for the call's next use.
func TestParallelWaitHandshake(t *testing.T) {
	for _, tc := range []struct {
		name string
		// untilSleeping holds the helper's last chunk until the caller
		// has gone to sleep, so the wake-up path is taken for certain.
		untilSleeping bool
	}{
		{"helper-finishes-at-once", false},
		{"helper-finishes-after-caller-sleeps", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &parallelCall{done: make(chan struct{}, 1)}
			c.remaining.Store(2)
			c.waiter.Store(callerPolling)
			c.chunkDone() // the caller's own chunk
			var finished atomic.Bool
			go func() {
				for tc.untilSleeping && c.waiter.Load() != callerSleeping {
					time.Sleep(10 * time.Microsecond)
				}
				finished.Store(true)
				c.chunkDone()
			}()
			returned := make(chan struct{})
			go func() { c.wait(); close(returned) }()
			select {
			case <-returned:
			case <-time.After(10 * time.Second):
				t.Fatal("the caller was never woken")
			}
			if !finished.Load() || c.remaining.Load() != 0 {
				t.Fatalf("wait returned with %d chunks left", c.remaining.Load())
			}
			// A polling caller may return while the helper is between its
			// count and its state change.
			for deadline := time.Now().Add(10 * time.Second); c.waiter.Load() == callerPolling && time.Now().Before(deadline); {
				runtime.Gosched()
			}
			switch got := c.waiter.Load(); {
			case got == callerPolling:
				t.Fatal("the last chunk left the caller's state unchanged")
			case tc.untilSleeping && got != callerSleeping:
				t.Fatalf("caller state %d, want sleeping", got)
			}
			if len(c.done) != 0 {
				t.Fatal("a wake-up was left in done for the next call")
			}
		})
	}
}
