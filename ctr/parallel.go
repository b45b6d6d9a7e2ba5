package ctr

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultParallelThreshold is the buffer length from which XORKeyStreamAt
// splits its work across cores unless SetParallelThreshold says otherwise.
// Below it, waking another core costs more than it saves.
const DefaultParallelThreshold = 256 << 10

// parallelChunk is the unit of work of a split call: each core works
// through its own segment a chunk at a time, and one that is done early
// steals chunks from the ends of the others'. Small enough that a core
// which joins late still gets a fair share, large enough (about 3 µs) that
// claiming it costs nothing.
const parallelChunk = 64 << 10

// Waking a sleeping goroutine on an idle core is slow: measured here, Go's
// scheduler takes about 70 µs (sometimes over 300 µs) after the core has
// idled for a millisecond, while the whole 4 MiB call takes 190 µs on one
// core. So nobody waits for a wake-up: the caller starts on its chunks at
// once and helpers join when they run. A worker that has just helped polls
// for the next call for up to twice as long as its work took (at least
// workerSpinMin, at most workerSpinMax), so a run of large calls finds it
// awake; polling yields the processor every pollYield, so it delays other
// goroutines little, and the CPU time it can waste is bounded by twice the
// work. The caller polls for the last chunks in flight for up to
// callerSpin (five SM4 chunks, thirty AES ones) before it sleeps: a caller
// that sleeps is woken late (see wait), and with the workers kept off the
// caller's CPU its polling does not hold up the chunk it waits for.
//
// Waking costs the caller too: the thread the kernel wakes for the helper
// (and Go's own spinning thread) often lands on the caller's CPU first. An
// isolated 4 MiB call that woke a helper took 230 µs here against 190 µs
// alone. So a sleeping worker is woken only for a call that is part of a
// run (the last large call ended less than runWindow ago; the helper then
// stays awake polling for the rest of the run) or that is large enough
// (wakeAlways) to absorb a slow wake-up. Workers already polling always
// help: handing them a call costs nothing.
const (
	callerSpin    = 100 * time.Microsecond
	workerSpinMin = 20 * time.Microsecond
	workerSpinMax = time.Millisecond
	pollYield     = 100 * time.Microsecond
	runWindow     = time.Millisecond
	wakeAlways    = 16 << 20
)

var parallelThreshold atomic.Int64

func init() { parallelThreshold.Store(DefaultParallelThreshold) }

// SetParallelThreshold sets the buffer length in bytes from which
// XORKeyStreamAt splits work across cores, and returns the previous value.
// Zero or a negative value turns the parallel path off. It applies to every
// Stream and may be called at any time.
func SetParallelThreshold(n int) (previous int) {
	if n <= 0 {
		n = 0
	}
	return int(parallelThreshold.Swap(int64(n)))
}

// ParallelThreshold returns the current parallel threshold in bytes; zero
// means the parallel path is off.
func ParallelThreshold() int { return int(parallelThreshold.Load()) }

// parallelMin is the length from which XORKeyStreamAt goes parallel.
func parallelMin() int {
	if t := parallelThreshold.Load(); t > 0 {
		return int(t)
	}
	return math.MaxInt
}

// A parallelCall is one split XORKeyStreamAt. The buffer is cut into one
// contiguous segment of chunks for each participant: the caller owns the
// first, the helpers it wakes the others in the order they arrive. Each
// works through its own segment from the front; whoever runs out steals
// chunks from the backs of the others'. Owning the same part of a buffer on
// every call keeps its cache lines on one core (handing chunks out in turn
// instead made the split call slower than one core here), and stealing
// means nobody ever waits for a helper that is slow to wake: the caller
// does its chunks itself. Whoever finishes the last chunk signals done.
// refs counts the caller and the helpers that still hold the call; the last
// to let go recycles it.
type parallelCall struct {
	s         *Stream
	dst, src  []byte
	offset    uint64
	chunks    int
	callerCPU int       // where the caller runs, for workers to keep off it
	segments  []segment // one per participant, reused across calls
	arrived   atomic.Int32
	remaining atomic.Int64
	refs      atomic.Int32
	waiter    atomic.Int32 // callerPolling, callerSleeping or callerReleased
	done      chan struct{}
}

// A segment is a range of chunks [front, back) packed into one word, so that
// the owner taking the front and a thief taking the back agree with one CAS.
// It has a cache line of its own.
type segment struct {
	bounds atomic.Uint64
	_      [56]byte
}

func (g *segment) set(front, back int) { g.bounds.Store(uint64(front)<<32 | uint64(back)) }

// takeFront claims the first chunk left, or returns -1.
func (g *segment) takeFront() int {
	for {
		w := g.bounds.Load()
		front, back := int(w>>32), int(uint32(w))
		if front >= back {
			return -1
		}
		if g.bounds.CompareAndSwap(w, w+1<<32) {
			return front
		}
	}
}

// takeBack claims the last chunk left, or returns -1.
func (g *segment) takeBack() int {
	for {
		w := g.bounds.Load()
		front, back := int(w>>32), int(uint32(w))
		if front >= back {
			return -1
		}
		if g.bounds.CompareAndSwap(w, w-1) {
			return back - 1
		}
	}
}

// chunkStart returns where chunk i begins in dst and src. Every chunk but
// the first begins on a block boundary of the stream.
func (c *parallelCall) chunkStart(i int) int {
	switch {
	case i == 0:
		return 0
	case i >= c.chunks:
		return len(c.src)
	}
	abs := c.offset + uint64(i)*parallelChunk
	return int(abs&^15 - c.offset)
}

// work runs the participant's own segment, then steals from the others'
// until every chunk is claimed.
func (c *parallelCall) work(self int) {
	if self < len(c.segments) {
		for i := c.segments[self].takeFront(); i >= 0; i = c.segments[self].takeFront() {
			c.run(i)
		}
	}
	for k := 1; k <= len(c.segments); k++ {
		victim := &c.segments[(self+k)%len(c.segments)]
		for i := victim.takeBack(); i >= 0; i = victim.takeBack() {
			c.run(i)
		}
	}
}

func (c *parallelCall) run(i int) {
	lo, hi := c.chunkStart(i), c.chunkStart(i+1)
	c.s.xorSerial(c.dst[lo:hi], c.src[lo:hi], c.offset+uint64(lo))
	c.chunkDone()
}

// chunkDone counts a finished chunk; after the last one it wakes the
// caller if the caller went to sleep.
func (c *parallelCall) chunkDone() {
	if c.remaining.Add(-1) == 0 && !c.waiter.CompareAndSwap(callerPolling, callerReleased) {
		c.done <- struct{}{} // the caller sleeps; buffered, sent once a call
	}
}

// What the caller does while the last chunks finish elsewhere.
const (
	callerPolling  = iota // polling remaining; nobody needs to wake it
	callerSleeping        // blocked on done; the last chunk's runner sends
	callerReleased        // the last chunk ended while the caller polled
)

// wait returns when every chunk is done. It polls for up to callerSpin and
// only then sleeps on done. A caller that went to sleep is woken by the
// helper that finished the last chunk, and Go readies it on that helper's
// processor, which is busy polling for the next call: the caller then waits
// for another processor to steal it, measured here at 100 µs, half the
// call. So the caller sleeps only when a helper is slow to finish, and the
// helper sends on done only when the caller has said it sleeps.
func (c *parallelCall) wait() {
	start := time.Now()
	for spins := 1; c.remaining.Load() != 0; spins++ {
		if spins%64 == 0 && time.Since(start) > callerSpin {
			if c.waiter.CompareAndSwap(callerPolling, callerSleeping) {
				<-c.done
			}
			return
		}
	}
}

// release drops one holder's reference and recycles the call after the
// last one.
func (c *parallelCall) release() {
	if c.refs.Add(-1) != 0 {
		return
	}
	c.s, c.dst, c.src = nil, nil, nil
	select {
	case freeCalls <- c:
	default:
	}
}

var (
	workersOnce sync.Once
	workerCount int
	// polling counts the workers polling for a call at this moment.
	polling atomic.Int32
	// lastLargeCall is when the last call of ParallelThreshold bytes or
	// more ended, in nanoseconds on clockBase's monotonic clock.
	lastLargeCall atomic.Int64
	clockBase     = time.Now()
	// wakeups carries calls to the workers.
	wakeups chan *parallelCall
	// freeCalls recycles parallelCalls. Unlike a sync.Pool it is not
	// emptied by the garbage collector, so the steady state allocates
	// nothing.
	freeCalls = make(chan *parallelCall, 64)
)

// startWorkers starts the worker goroutines on first use, one for each
// core but the caller's. They live as long as the process. There are no
// more workers than helpers a call can use: a send goes to a sleeping
// receiver before a polling one, so a spare sleeping worker would take the
// call and leave the awake one idle.
func startWorkers() {
	initAffinity()
	workerCount = max(runtime.NumCPU(), runtime.GOMAXPROCS(0)) - 1
	wakeups = make(chan *parallelCall, 4*max(workerCount, 1))
	for range workerCount {
		go worker()
	}
}

func worker() {
	var aff workerAffinity
	aff.start()
	c := <-wakeups
	for {
		start := time.Now()
		aff.avoid(c.callerCPU)
		c.work(int(c.arrived.Add(1)))
		c.release()
		if c = pollCall(min(max(2*time.Since(start), workerSpinMin), workerSpinMax)); c == nil {
			c = <-wakeups
		}
	}
}

// pollCall polls for the next call for up to d and returns nil if none
// came. It yields the processor every pollYield, so that a goroutine
// waiting for it is delayed by at most that much.
func pollCall(d time.Duration) *parallelCall {
	polling.Add(1)
	defer polling.Add(-1)
	start := time.Now()
	lastYield := start
	for {
		select {
		case c := <-wakeups:
			return c
		default:
		}
		now := time.Now()
		if now.Sub(start) > d {
			return nil
		}
		if now.Sub(lastYield) > pollYield {
			runtime.Gosched()
			lastYield = time.Now()
		}
	}
}

// xorParallel runs XORKeyStreamAt on the calling goroutine and up to
// GOMAXPROCS-1 workers.
func (s *Stream) xorParallel(dst, src []byte, offset uint64) {
	workersOnce.Do(startWorkers)
	now := int64(time.Since(clockBase))
	inRun := now-lastLargeCall.Load() < int64(runWindow)
	defer func() { lastLargeCall.Store(int64(time.Since(clockBase))) }()

	chunks := (len(src) + parallelChunk - 1) / parallelChunk
	helpers := min(runtime.GOMAXPROCS(0)-1, workerCount, chunks-1)
	if !inRun && len(src) < wakeAlways {
		helpers = min(helpers, int(polling.Load()))
	}
	if helpers < 1 {
		s.xorSerial(dst, src, offset)
		return
	}
	var c *parallelCall
	select {
	case c = <-freeCalls:
	default:
		c = &parallelCall{done: make(chan struct{}, 1), segments: make([]segment, workerCount+1)}
	}
	c.s, c.dst, c.src, c.offset, c.chunks = s, dst, src, offset, chunks
	c.callerCPU = currentCPU()
	parts := helpers + 1
	c.segments = c.segments[:parts]
	for p := range parts {
		c.segments[p].set(p*chunks/parts, (p+1)*chunks/parts)
	}
	c.arrived.Store(0)
	c.waiter.Store(callerPolling)
	c.remaining.Store(int64(chunks))
	c.refs.Store(int32(parts))
	for range helpers {
		select {
		case wakeups <- c:
		default:
			c.release() // every worker is busy: the caller does more itself
		}
	}
	c.work(0)
	c.wait()
	c.release()
}
