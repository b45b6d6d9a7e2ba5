// Package secmem holds secret key material in memory the Go runtime does
// not manage.
//
// A [Buffer] lives in an anonymous private mapping, not in the Go heap, so
// the garbage collector never copies it and no stale copy is left behind
// when a heap span is reused. Each mapping is locked with mlock so the
// kernel never writes it to swap, and on Linux it is marked MADV_DONTDUMP
// so a core dump leaves it out. Release zeroes the bytes before the memory
// is handed to a later buffer; mappings are never returned to the kernel.
//
// Buffers of up to 2 KiB share pages: each of the size classes 32, 64, ...,
// 2048 bytes carves whole pages into slots, so thousands of 16- or 32-byte
// keys cost a handful of pages of locked memory. Larger buffers get a
// mapping of their own, rounded up to whole pages, which goes on a free
// list when released and is reused by a later buffer that fits.
//
// Where mlock is refused (RLIMIT_MEMLOCK exhausted, no CAP_IPC_LOCK) the
// memory is used anyway: [Status] says what the platform granted, and the
// function set with [SetWarner] is told once per process. On platforms
// without mmap (windows, wasm, plan9) buffers are ordinary Go memory and
// Status says so.
//
// Everything in the package is safe for concurrent use.
package secmem

import (
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// maxSize is the largest buffer New accepts. Key material is at most a
	// few hundred KiB; anything near this is a bug in the caller.
	maxSize = 64 << 20

	// Slab size classes are the powers of two from minClass to maxClass.
	minClassShift = 5  // 32 bytes
	maxClassShift = 11 // 2048 bytes
	maxClass      = 1 << maxClassShift
	numClasses    = maxClassShift - minClassShift + 1
)

// ErrInvalidSize is wrapped by the error New returns for a size below 1 or
// above 64 MiB.
var ErrInvalidSize = errors.New("secmem: invalid buffer size")

// pageSize is the unit of every mapping; slabBytes is the length of the
// mapping one size class adds when its free list runs dry (one page on every
// real platform, as pages are at least 4 KiB).
var (
	pageSize  = os.Getpagesize()
	slabBytes = roundUp(maxClass, pageSize)
)

// Platform hooks. They are variables so tests can make them fail; each
// platform file supplies the os* functions.
var (
	// mapPages returns n bytes (a multiple of pageSize) of fresh, zeroed,
	// page-aligned memory that is never freed.
	mapPages = osMapPages
	// lockPages keeps mem out of swap (mlock).
	lockPages = osLockPages
	// noDumpPages keeps mem out of core dumps (MADV_DONTDUMP on Linux).
	noDumpPages = osNoDumpPages
)

// Buffer holds secret bytes outside the Go heap. Obtain one with [New] and
// give it back with [Buffer.Release]; a Buffer that is never released is
// never zeroed and its memory is never reused. A Buffer must not be copied;
// the zero Buffer behaves like a released one.
type Buffer struct {
	data     []byte     // the caller's n bytes: block[:n:n]
	block    []byte     // the whole slot or mapping data was cut from
	owner    *allocator // where block goes back to
	class    int        // size class of block, or -1 for a dedicated mapping
	released atomic.Bool
}

// New returns a Buffer of n zeroed bytes, 1 <= n <= 64 MiB. A size outside
// that range yields an error wrapping [ErrInvalidSize]; an error is also
// returned if the platform cannot map memory at all. Failing to lock the
// memory or exclude it from core dumps is not an error: see [Status].
func New(n int) (*Buffer, error) {
	return defaultAllocator.newBuffer(n)
}

// Bytes returns the buffer's memory: exactly Len bytes with capacity Len, so
// an append copies the secret into the Go heap instead of writing past the
// end. The slice is valid until Release; after Release, or on a nil
// Buffer, Bytes returns nil.
func (b *Buffer) Bytes() []byte {
	if b == nil || b.released.Load() {
		return nil
	}
	return b.data
}

// Len returns the size the buffer was created with, or 0 after Release or
// on a nil Buffer.
func (b *Buffer) Len() int {
	return len(b.Bytes())
}

// Release zeroes the buffer and returns its memory for reuse by a later
// New. Slices obtained from Bytes must not be used afterwards; they keep
// pointing at the (now zeroed) memory, which may belong to another Buffer
// later. Release is idempotent and does nothing on a nil Buffer.
func (b *Buffer) Release() {
	if b == nil || !b.released.CompareAndSwap(false, true) || b.owner == nil {
		return
	}
	// Only data was ever exposed, and a free block is all zeros (fresh
	// mappings are, and every release restores it), so zeroing data is
	// enough to keep that invariant for the whole block.
	clear(b.data)
	// The memory is not in the Go heap and stays reachable through the free
	// list, so the stores above are observable and the compiler has no
	// licence to drop them as dead; KeepAlive spells that out and keeps the
	// slice live until the zeroing is done.
	runtime.KeepAlive(b.data)
	b.owner.put(b.class, b.block)
}

// allocator hands out slots from per-class slabs and dedicated mappings for
// larger buffers. All memory it ever obtained stays mapped.
type allocator struct {
	mu     sync.Mutex
	free   [numClasses][][]byte // free slots per class, used as stacks
	large  [][]byte             // free dedicated mappings
	mapped int                  // bytes obtained from mapPages
}

var defaultAllocator allocator

func (a *allocator) newBuffer(n int) (*Buffer, error) {
	if n < 1 || n > maxSize {
		return nil, fmt.Errorf("%w %d (want 1 to %d)", ErrInvalidSize, n, maxSize)
	}
	class := classOf(n)
	var block []byte
	var err error
	if class >= 0 {
		block, err = a.slot(class)
	} else {
		block, err = a.mapping(n)
	}
	if err != nil {
		return nil, err
	}
	return &Buffer{data: block[:n:n], block: block, owner: a, class: class}, nil
}

// classOf returns the index of the smallest size class holding n bytes, or
// -1 if n needs a dedicated mapping.
func classOf(n int) int {
	if n > maxClass {
		return -1
	}
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// slot pops a free slot of the class, carving a new slab if there is none.
func (a *allocator) slot(class int) ([]byte, error) {
	a.mu.Lock()
	if free := a.free[class]; len(free) > 0 {
		s := free[len(free)-1]
		free[len(free)-1] = nil
		a.free[class] = free[:len(free)-1]
		a.mu.Unlock()
		return s, nil
	}
	a.mu.Unlock()

	// Map outside the lock: mlock can take a while and other classes need
	// not wait. Two goroutines racing here just add a slab each.
	slab, err := mapProtected(slabBytes)
	if err != nil {
		return nil, err
	}
	size := 1 << (class + minClassShift)
	a.mu.Lock()
	a.mapped += len(slab)
	// Push from the top so that the lowest slots are handed out first; the
	// first slot goes straight to the caller.
	for off := len(slab) - size; off >= size; off -= size {
		a.free[class] = append(a.free[class], slab[off:off+size:off+size])
	}
	a.mu.Unlock()
	return slab[:size:size], nil
}

// mapping returns a free dedicated mapping of at least n bytes, or a new one.
// The smallest that fits wins, the most recently freed among equals; a free
// mapping more than twice the rounded size is left for a larger buffer
// rather than tied up.
func (a *allocator) mapping(n int) ([]byte, error) {
	need := roundUp(n, pageSize)
	a.mu.Lock()
	best := -1
	for i, m := range a.large {
		if len(m) >= need && len(m) <= 2*need && (best < 0 || len(m) <= len(a.large[best])) {
			best = i
		}
	}
	if best >= 0 {
		m := a.large[best]
		last := len(a.large) - 1
		a.large[best] = a.large[last]
		a.large[last] = nil
		a.large = a.large[:last]
		a.mu.Unlock()
		return m, nil
	}
	a.mu.Unlock()

	m, err := mapProtected(need)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.mapped += len(m)
	a.mu.Unlock()
	return m, nil
}

// put returns a zeroed block to its free list.
func (a *allocator) put(class int, block []byte) {
	a.mu.Lock()
	if class >= 0 {
		a.free[class] = append(a.free[class], block)
	} else {
		a.large = append(a.large, block)
	}
	a.mu.Unlock()
}

func roundUp(n, unit int) int {
	return (n + unit - 1) / unit * unit
}

// Protection describes what the platform gave the most recent allocations.
type Protection struct {
	Locked bool   // mlock succeeded
	NoDump bool   // MADV_DONTDUMP (or equivalent) succeeded
	Detail string // why not, when either is false ("mlock: operation not permitted (RLIMIT_MEMLOCK=65536)")
}

// status is the outcome of the most recent mapping.
var status struct {
	mu   sync.Mutex
	prot Protection
	set  bool
}

// mapProtected maps n bytes and asks for them to be locked and kept out of
// core dumps. Only a failure to map is an error; the rest is recorded for
// Status and reported once through the warner.
func mapProtected(n int) ([]byte, error) {
	mem, err := mapPages(n)
	if err != nil {
		return nil, fmt.Errorf("secmem: mapping %d bytes: %w", n, err)
	}
	p := Protection{Locked: true, NoDump: true}
	var why []string
	if err := lockPages(mem); err != nil {
		p.Locked = false
		why = append(why, lockDetail(err))
	}
	if err := noDumpPages(mem); err != nil {
		p.NoDump = false
		why = append(why, noDumpOp+": "+err.Error())
	}
	p.Detail = strings.Join(why, "; ")
	setStatus(p)
	return mem, nil
}

func setStatus(p Protection) {
	status.mu.Lock()
	status.prot = p
	status.set = true
	status.mu.Unlock()
	if (!p.Locked || !p.NoDump) && warned.CompareAndSwap(false, true) {
		warn("secmem: secret memory is not fully protected and may reach swap or core dumps: " + p.Detail)
	}
}

// Status reports what the platform granted the most recent mapping the
// package made: whether it is locked in RAM and excluded from core dumps,
// and if not, why. If nothing has been allocated yet, Status maps the first
// slab page (kept for later buffers) so the answer describes this process.
func Status() Protection {
	status.mu.Lock()
	p, set := status.prot, status.set
	status.mu.Unlock()
	if set {
		return p
	}
	b, err := New(1)
	if err != nil {
		return Protection{Detail: err.Error()}
	}
	b.Release()
	status.mu.Lock()
	p = status.prot
	status.mu.Unlock()
	return p
}

// warned records that the once-per-process warning has been issued (or
// dropped, if the warner was nil at the time).
var warned atomic.Bool

// warnTo holds the function set by SetWarner; nil means the default.
var warnTo atomic.Pointer[warnFunc]

type warnFunc struct{ fn func(msg string) }

// SetWarner sets the function told, once per process, that memory could not
// be locked or excluded from core dumps. The default logs msg through
// log/slog's default logger at Warn level; nil silences the warning. The
// warning is not repeated for a warner set after it was issued.
func SetWarner(fn func(msg string)) {
	warnTo.Store(&warnFunc{fn})
}

func warn(msg string) {
	if w := warnTo.Load(); w != nil {
		if w.fn != nil {
			w.fn(msg)
		}
		return
	}
	slog.Warn(msg)
}
