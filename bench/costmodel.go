package bench

import (
	"crypto/rand"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/interleave"
	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/ctr"
)

// The cipher's cost for an engine arm: what a call of the arm's average
// read size, and of its average write size, takes on this machine, in the
// cache (the engine's blocks come from the page cache and pass through
// the CPU's caches on their way). Timed in CPU time, as the arms are, so
// that a neighbour's load on a shared machine does not inflate it. The
// cost of a call is measured at the size the arm used rather than fitted
// to a line: a stream that computes keystream ahead in batches (gmsm's)
// costs steps, not a slope.
const (
	// costTakes is how many times a size is timed; the median is kept.
	costTakes = 5
	costTake  = 4 * time.Millisecond
	// maxCallSize bounds the buffer a call is timed on.
	maxCallSize = 4 << 20
)

// callCost is the CPU time in ns of one xor call of n bytes, at offsets
// that are not multiples of the block size (an engine's reads start
// anywhere).
func callCost(xor func(buf []byte, off int64), n int) float64 {
	if n <= 0 {
		return 0
	}
	buf := make([]byte, min(n, maxCallSize))
	var off int64
	op := func() {
		xor(buf, off)
		off += int64(len(buf)) + 5
	}
	k, _ := measure(costTake/4, op) // warm up, and size a take
	per := max(k*4, 1)
	takes := make([]float64, costTakes)
	for i := range takes {
		c0, err := interleave.CPUTime()
		if err != nil {
			return 0
		}
		for range per {
			op()
		}
		c1, _ := interleave.CPUTime()
		takes[i] = float64(c1-c0) / float64(per)
	}
	return stats.Median(takes) * float64(n) / float64(len(buf))
}

// cipherOf returns the xor of an encrypted arm: atrest's
// XORKeyStreamAt, or the peer's new stream per call.
func cipherOf(impl string, st engine.Storage) (func(buf []byte, off int64), error) {
	iv := make([]byte, ctr.IVSize)
	rand.Read(iv)
	if impl == ImplPeer {
		return func(b []byte, off int64) { st.Peer.XORAt(b, b, iv, off) }, nil
	}
	key := make([]byte, st.Method.KeySize())
	rand.Read(key)
	s, err := ctr.New(st.Method, key, iv)
	if err != nil {
		return nil, err
	}
	return func(b []byte, off int64) { s.XORKeyStreamAt(b, b, uint64(off)) }, nil
}

// expected is the Expected of an arm that did io over ops operations with
// cipher xor, measured at measuredNs a operation beyond plaintext.
func expected(io engine.IO, ops int64, xor func([]byte, int64), measuredNs float64) *Expected {
	if ops <= 0 {
		return nil
	}
	n := float64(ops)
	x := &Expected{
		ReadCalls:  float64(io.ReadCalls) / n,
		WriteCalls: float64(io.WriteCalls) / n,
		ReadBytes:  float64(io.ReadBytes) / n,
		WriteBytes: float64(io.WriteBytes) / n,
		MeasuredNs: measuredNs,
	}
	if io.ReadCalls > 0 {
		x.ReadCallNs = callCost(xor, int(io.ReadBytes/io.ReadCalls))
	}
	if io.WriteCalls > 0 {
		x.WriteCallNs = callCost(xor, int(io.WriteBytes/io.WriteCalls))
	}
	x.CipherNs = x.ReadCalls*x.ReadCallNs + x.WriteCalls*x.WriteCallNs
	return x
}
