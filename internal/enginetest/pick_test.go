package enginetest

import (
	"math/rand/v2"
	"testing"
)

// TestPickWrites: n distinct keys from pickKey, sorted; delEvery 1
// deletes them all, a large delEvery (almost) none, and every other
// generation is odd.
func TestPickWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() int { return r.IntN(20) }
	for _, tc := range []struct {
		n, delEvery int
		allDeleted  bool
	}{{10, 1, true}, {20, 1 << 30, false}, {5, 3, false}} {
		ws := PickWrites(r, tc.n, tc.delEvery, pick)
		if len(ws) != tc.n {
			t.Fatalf("%d writes, want %d", len(ws), tc.n)
		}
		for i, w := range ws {
			if i > 0 && ws[i-1].K >= w.K {
				t.Fatalf("keys not distinct and sorted: %v", ws)
			}
			if w.K < 0 || w.K >= 20 {
				t.Fatalf("key %d not from pickKey", w.K)
			}
			if tc.allDeleted != (w.Gen == 0) && tc.delEvery != 3 {
				t.Fatalf("delEvery %d: write %+v", tc.delEvery, w)
			}
			if w.Gen != 0 && w.Gen%2 == 0 {
				t.Fatalf("even generation %d", w.Gen)
			}
		}
	}
}

// TestQuietLogger: informational and error lines are dropped, a fatal
// error panics with its message.
func TestQuietLogger(t *testing.T) {
	var l QuietLogger
	l.Infof("info %d", 1)
	l.Errorf("error %d", 2)
	defer func() {
		if r := recover(); r != "fatal 3" {
			t.Errorf("Fatalf panicked with %v, want the message", r)
		}
	}()
	l.Fatalf("fatal %d", 3)
}
