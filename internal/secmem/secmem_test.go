package secmem

import (
	"bytes"
	"cmp"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

var testSizes = []int{1, 15, 16, 31, 32, 33, 2048, 2049, 4096, 100000}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// pattern is the byte buffer id holds at index i: a cheap hash, so two
// buffers (or two positions) rarely agree and an overlap shows up.
func pattern(id, i int) byte {
	x := uint64(id)*0x9E3779B97F4A7C15 + uint64(i)*0xBF58476D1CE4E5B9
	x ^= x >> 29
	return byte(x) | 1 // never 0, so a zeroed byte is always a mismatch
}

func fill(b []byte, id int) {
	for i := range b {
		b[i] = pattern(id, i)
	}
}

// firstMismatch returns the first index where b differs from id's pattern,
// or -1.
func firstMismatch(b []byte, id int) int {
	for i := range b {
		if b[i] != pattern(id, i) {
			return i
		}
	}
	return -1
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

func mustNew(t testing.TB, a *allocator, n int) *Buffer {
	t.Helper()
	b, err := a.newBuffer(n)
	if err != nil {
		t.Fatalf("New(%d): %v", n, err)
	}
	return b
}

func TestSizes(t *testing.T) {
	for _, n := range testSizes {
		b, err := New(n)
		if err != nil {
			t.Fatalf("New(%d): %v", n, err)
		}
		p := b.Bytes()
		if b.Len() != n || len(p) != n || cap(p) != n {
			t.Errorf("New(%d): Len %d, len %d, cap %d; want all %d", n, b.Len(), len(p), cap(p), n)
		}
		if i := firstNonZero(p); i >= 0 {
			t.Errorf("New(%d): byte %d is %#x, want zeroed memory", n, i, p[i])
		}
		if got := append(p, 1); addrOf(got) == addrOf(p) {
			t.Errorf("New(%d): append wrote past the end of the buffer", n)
		}
		fill(p, n)
		b.Release()

		// The memory comes back zeroed however it was left.
		b2, err := New(n)
		if err != nil {
			t.Fatalf("New(%d) again: %v", n, err)
		}
		if i := firstNonZero(b2.Bytes()); i >= 0 {
			t.Errorf("New(%d) after a release: byte %d is %#x, want zeroed memory", n, i, b2.Bytes()[i])
		}
		b2.Release()
	}
}

func TestInvalidSize(t *testing.T) {
	for _, n := range []int{0, -1, math.MinInt, maxSize + 1, math.MaxInt} {
		b, err := New(n)
		if !errors.Is(err, ErrInvalidSize) || b != nil {
			t.Errorf("New(%d) = %v, %v; want nil and an error wrapping ErrInvalidSize", n, b, err)
		}
	}
}

func TestClassOf(t *testing.T) {
	for _, c := range []struct{ n, class int }{
		{1, 0}, {31, 0}, {32, 0}, {33, 1}, {64, 1}, {65, 2}, {128, 2},
		{1024, 5}, {1025, 6}, {2048, 6}, {2049, -1}, {maxSize, -1},
	} {
		if got := classOf(c.n); got != c.class {
			t.Errorf("classOf(%d) = %d, want %d", c.n, got, c.class)
		}
		if c.class >= 0 && (1<<(c.class+minClassShift) < c.n || (c.class > 0 && 1<<(c.class+minClassShift-1) >= c.n)) {
			t.Errorf("class %d is not the smallest holding %d bytes", c.class, c.n)
		}
	}
}

// TestIsolation fills many live buffers of every size with distinct
// patterns and checks that none was disturbed by the others.
func TestIsolation(t *testing.T) {
	const perSize = 20
	var bufs []*Buffer
	for range perSize {
		for _, n := range testSizes {
			b, err := New(n)
			if err != nil {
				t.Fatal(err)
			}
			bufs = append(bufs, b)
		}
	}
	defer func() {
		for _, b := range bufs {
			b.Release()
		}
	}()
	for id, b := range bufs {
		fill(b.Bytes(), id)
	}
	for id, b := range bufs {
		if i := firstMismatch(b.Bytes(), id); i >= 0 {
			t.Fatalf("buffer %d (%d bytes) changed at byte %d after other buffers were written", id, b.Len(), i)
		}
	}

	// No two buffers share an address range.
	sorted := slices.Clone(bufs)
	slices.SortFunc(sorted, func(x, y *Buffer) int {
		return cmp.Compare(addrOf(x.Bytes()), addrOf(y.Bytes()))
	})
	for i := 1; i < len(sorted); i++ {
		prev, cur := sorted[i-1].Bytes(), sorted[i].Bytes()
		if addrOf(prev)+uintptr(len(prev)) > addrOf(cur) {
			t.Fatalf("buffers at %#x (%d bytes) and %#x overlap", addrOf(prev), len(prev), addrOf(cur))
		}
	}
}

func TestRelease(t *testing.T) {
	a := new(allocator)
	for _, n := range testSizes {
		b := mustNew(t, a, n)
		old := b.Bytes()
		fill(old, n)
		b.Release()
		if i := firstNonZero(old); i >= 0 {
			t.Errorf("%d bytes: after Release byte %d of the old slice is %#x, want 0", n, i, old[i])
		}
		if b.Bytes() != nil || b.Len() != 0 {
			t.Errorf("%d bytes: after Release Bytes() = %d bytes, Len() = %d; want nil and 0", n, len(b.Bytes()), b.Len())
		}
		b.Release() // harmless

		// The next buffer of the size gets the same memory, and it would be
		// a bug for the double Release to have queued it twice.
		b1 := mustNew(t, a, n)
		b2 := mustNew(t, a, n)
		if addrOf(b1.Bytes()) != addrOf(old) {
			t.Errorf("%d bytes: released memory at %#x not reused (got %#x)", n, addrOf(old), addrOf(b1.Bytes()))
		}
		if addrOf(b2.Bytes()) == addrOf(b1.Bytes()) {
			t.Errorf("%d bytes: two live buffers share %#x after a double Release", n, addrOf(b1.Bytes()))
		}
		b1.Release()
		b2.Release()
	}
}

func TestNilAndZeroBuffer(t *testing.T) {
	var nb *Buffer
	var zb Buffer
	for _, b := range []*Buffer{nb, &zb} {
		if b.Bytes() != nil || b.Len() != 0 {
			t.Errorf("Bytes() = %v, Len() = %d; want nil and 0", b.Bytes(), b.Len())
		}
		b.Release()
		b.Release()
	}
}

// TestSmallKeysShareFewPages: thousands of keys must cost their total size
// in whole pages, not a page each.
func TestSmallKeysShareFewPages(t *testing.T) {
	const keys = 4096
	a := new(allocator)
	for _, n := range []int{16, 32} {
		var bufs []*Buffer
		for range keys {
			bufs = append(bufs, mustNew(t, a, n))
		}
		for _, b := range bufs {
			b.Release()
		}
	}
	// Both sizes use the 32-byte class and the second round reuses the first.
	want := roundUp(keys*32, slabBytes)
	if a.mapped != want {
		t.Errorf("%d 32-byte keys mapped %d bytes, want %d (page size %d)", keys, a.mapped, want, pageSize)
	}
	t.Logf("%d keys of 16 or 32 bytes: %d bytes in %d-byte pages", keys, a.mapped, pageSize)
}

func TestLargeReuse(t *testing.T) {
	a := new(allocator)
	b := mustNew(t, a, 100000)
	first := addrOf(b.Bytes())
	b.Release()
	mapped := a.mapped

	b = mustNew(t, a, 90000) // fits the freed mapping
	if addrOf(b.Bytes()) != first || a.mapped != mapped {
		t.Errorf("90000 bytes after freeing 100000: got %#x, want reuse of %#x", addrOf(b.Bytes()), first)
	}
	c := mustNew(t, a, 5000) // far smaller: gets its own mapping
	second := addrOf(c.Bytes())
	if second == first || a.mapped != mapped+roundUp(5000, pageSize) {
		t.Errorf("5000 bytes: mapped %d, want %d", a.mapped, mapped+roundUp(5000, pageSize))
	}
	b.Release()
	c.Release()
	d := mustNew(t, a, 1000) // small: from a slab, not a free mapping
	if got := addrOf(d.Bytes()); got == first || got == second {
		t.Errorf("a 1000-byte buffer was given a dedicated mapping")
	}
	d.Release()
}

func TestConcurrent(t *testing.T) {
	sizes := []int{1, 16, 32, 33, 100, 500, 2048, 2049, 5000, 20000}
	const workers, iters = 8, 1500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var held []*Buffer
			var ids []int
			for it := range iters {
				if len(held) < 4 && rng.IntN(3) != 0 {
					n := sizes[rng.IntN(len(sizes))]
					b, err := New(n)
					if err != nil {
						t.Error(err)
						return
					}
					if i := firstNonZero(b.Bytes()); i >= 0 {
						t.Errorf("New(%d): byte %d not zero", n, i)
						return
					}
					id := w*iters + it
					fill(b.Bytes(), id)
					held = append(held, b)
					ids = append(ids, id)
					continue
				}
				if len(held) == 0 {
					continue
				}
				k := rng.IntN(len(held))
				if i := firstMismatch(held[k].Bytes(), ids[k]); i >= 0 {
					t.Errorf("buffer of %d bytes changed at byte %d while held", held[k].Len(), i)
					return
				}
				held[k].Release()
				held = slices.Delete(held, k, k+1)
				ids = slices.Delete(ids, k, k+1)
			}
			for k, b := range held {
				if i := firstMismatch(b.Bytes(), ids[k]); i >= 0 {
					t.Errorf("buffer of %d bytes changed at byte %d while held", b.Len(), i)
				}
				b.Release()
			}
		})
	}
	// Status and racing double releases run alongside the allocations.
	wg.Go(func() {
		for range 100 {
			_ = Status()
		}
	})
	wg.Go(func() {
		for range 100 {
			b, err := New(32)
			if err != nil {
				t.Error(err)
				return
			}
			var inner sync.WaitGroup
			for range 3 {
				inner.Go(b.Release)
			}
			inner.Wait()
		}
	})
	wg.Wait()
}

func TestAllocsPerRun(t *testing.T) {
	for range 10 {
		b, _ := New(32)
		b.Release()
	}
	allocs := testing.AllocsPerRun(1000, func() {
		b, err := New(32)
		if err != nil {
			panic(err)
		}
		b.Bytes()[0] = 1
		b.Release()
	})
	t.Logf("New(32)+Release: %v heap allocations (the *Buffer header)", allocs)
	if allocs > 1 {
		t.Errorf("New(32)+Release: %v heap allocations, want at most 1", allocs)
	}
}

func TestStatusConsistent(t *testing.T) {
	p := Status()
	t.Logf("Status() = %+v", p)
	if p.Locked && p.NoDump && p.Detail != "" {
		t.Errorf("fully protected, but Detail = %q", p.Detail)
	}
	if (!p.Locked || !p.NoDump) && p.Detail == "" {
		t.Errorf("not fully protected, but Detail is empty")
	}
	if !p.Locked && !strings.Contains(p.Detail, "mlock") {
		t.Errorf("not locked, but Detail %q does not mention mlock", p.Detail)
	}
}

// simulate makes every later mapping's mlock fail with lockErr and resets
// the once-per-process warning; everything is restored when t ends.
func simulate(t *testing.T, lockErr error) {
	t.Helper()
	savedLock, savedWarner, savedWarned := lockPages, warnTo.Load(), warned.Load()
	status.mu.Lock()
	savedStatus, savedSet := status.prot, status.set
	status.mu.Unlock()
	t.Cleanup(func() {
		lockPages = savedLock
		warnTo.Store(savedWarner)
		warned.Store(savedWarned)
		status.mu.Lock()
		status.prot, status.set = savedStatus, savedSet
		status.mu.Unlock()
	})
	lockPages = func([]byte) error { return lockErr }
	warned.Store(false)
}

func TestWarnerDefaultIsSlog(t *testing.T) {
	simulate(t, errors.New("simulated failure"))
	warnTo.Store(nil) // the default
	logged := captureSlog(t)

	a := new(allocator)
	for range 3 {
		mustNew(t, a, 5000).Release()
		mustNew(t, a, 50000).Release()
	}
	out := logged.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "mlock: simulated failure") {
		t.Errorf("slog output = %q, want one warning mentioning the mlock failure", out)
	}
}

func TestWarnerNilSilences(t *testing.T) {
	simulate(t, errors.New("simulated failure"))
	SetWarner(nil)
	logged := captureSlog(t)
	mustNew(t, new(allocator), 1).Release()
	if !warned.Load() {
		t.Errorf("warning not marked as issued")
	}
	if logged.Len() != 0 {
		t.Errorf("a nil warner still logged %q", logged)
	}
	if p := Status(); p.Locked {
		t.Errorf("Status() = %+v after a failed mlock", p)
	}
}

// captureSlog points slog's default logger at a buffer until t ends.
func captureSlog(t *testing.T) *bytes.Buffer {
	var logged bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &logged
}
