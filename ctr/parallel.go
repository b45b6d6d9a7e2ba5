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

// parallelChunk is the unit of work the cores of a split call claim one at
// a time: small enough that a core which joins late still gets a fair
// share, large enough (about 3 µs) that claiming it costs nothing.
const parallelChunk = 64 << 10

// Waking a sleeping goroutine on an idle core is slow: measured here, Go's
// scheduler takes about 70 µs (sometimes over 300 µs) after the core has
// idled for a millisecond, while the whole 4 MiB call takes 190 µs on one
// core. So nobody waits for a wake-up: the caller starts on the chunks at
// once and helpers join when they run. And both sides poll before they
// sleep: the caller briefly for the last chunks in flight, and a worker that
// has just helped for up to twice as long as its work took (at least
// workerSpinMin, at most workerSpinMax), so a run of large calls finds it
// awake. Polling yields the processor every pollYield, so it delays other
// goroutines little; the CPU time it can waste is bounded by twice the work.
const (
	callerSpin    = 50 * time.Microsecond
	workerSpinMin = 20 * time.Microsecond
	workerSpinMax = time.Millisecond
	pollYield     = 20 * time.Microsecond
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

// A parallelCall is one split XORKeyStreamAt. The caller and the workers it
// wakes claim chunks from next until none is left; whoever finishes the last
// chunk signals done. A worker that wakes after every chunk is claimed does
// nothing, so a slow wake-up costs the call nothing either: the caller does
// the chunks itself. refs counts the caller and the workers that still hold
// the call; the last to let go recycles it.
type parallelCall struct {
	s         *Stream
	dst, src  []byte
	offset    uint64
	chunks    int64
	next      atomic.Int64
	remaining atomic.Int64
	refs      atomic.Int32
	done      chan struct{}
}

// chunkStart returns where chunk i begins in dst and src. Every chunk but
// the first begins on a block boundary of the stream.
func (c *parallelCall) chunkStart(i int64) int {
	switch {
	case i == 0:
		return 0
	case i >= c.chunks:
		return len(c.src)
	}
	abs := c.offset + uint64(i)*parallelChunk
	return int(abs&^15 - c.offset)
}

// work claims and runs chunks until none is left.
func (c *parallelCall) work() {
	for {
		i := c.next.Add(1) - 1
		if i >= c.chunks {
			return
		}
		lo, hi := c.chunkStart(i), c.chunkStart(i+1)
		c.s.xorSerial(c.dst[lo:hi], c.src[lo:hi], c.offset+uint64(lo))
		if c.remaining.Add(-1) == 0 {
			c.done <- struct{}{} // buffered, and sent once a call: never blocks
		}
	}
}

// wait returns when every chunk is done, polling for up to callerSpin
// before it sleeps.
func (c *parallelCall) wait() {
	start := time.Now()
	for spins := 1; c.remaining.Load() != 0; spins++ {
		if spins%64 == 0 && time.Since(start) > callerSpin {
			break
		}
	}
	<-c.done
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
	// wakeups carries calls to the workers.
	wakeups chan *parallelCall
	// freeCalls recycles parallelCalls. Unlike a sync.Pool it is not
	// emptied by the garbage collector, so the steady state allocates
	// nothing.
	freeCalls = make(chan *parallelCall, 64)
)

// startWorkers starts the worker goroutines on first use, one for each
// core but the caller's. They live as long as the process and sleep when
// there is no work. There must be no more workers than helpers a call can
// use: a send goes to a sleeping receiver before a polling one, so a spare
// sleeping worker would take the call and leave the awake one idle.
func startWorkers() {
	workerCount = max(runtime.NumCPU(), runtime.GOMAXPROCS(0)) - 1
	wakeups = make(chan *parallelCall, 4*max(workerCount, 1))
	for range workerCount {
		go worker()
	}
}

func worker() {
	c := <-wakeups
	for {
		start := time.Now()
		c.work()
		c.release()
		spin := min(max(2*time.Since(start), workerSpinMin), workerSpinMax)
		if c = pollCall(spin); c == nil {
			c = <-wakeups
		}
	}
}

// pollCall polls for the next call for up to d and returns nil if none
// came. It yields the processor every pollYield, so that a goroutine
// waiting for it is delayed by at most that much; yielding on every poll
// sends the worker through the scheduler thousands of times, which here
// slowed the caller's own chunks by a third.
func pollCall(d time.Duration) *parallelCall {
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
	chunks := int64((len(src) + parallelChunk - 1) / parallelChunk)
	helpers := min(runtime.GOMAXPROCS(0)-1, workerCount, int(chunks)-1)
	if helpers < 1 {
		s.xorSerial(dst, src, offset)
		return
	}
	var c *parallelCall
	select {
	case c = <-freeCalls:
	default:
		c = &parallelCall{done: make(chan struct{}, 1)}
	}
	c.s, c.dst, c.src, c.offset, c.chunks = s, dst, src, offset, chunks
	c.next.Store(0)
	c.remaining.Store(chunks)
	c.refs.Store(int32(1 + helpers))
	for range helpers {
		select {
		case wakeups <- c:
		default:
			c.release() // every worker is busy: the caller does more itself
		}
	}
	c.work()
	c.wait()
	c.release()
}
