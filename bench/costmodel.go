package bench

import (
	"crypto/rand"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/ctr"
)

// The cipher's cost model: a call of n bytes costs perCall + n·perByte
// nanoseconds, measured on this machine at two sizes, in the cache (the
// engine's blocks are in the page cache and pass through the CPU's
// caches on their way).
const (
	costSmall = 256
	costLarge = 32 << 10
	// costTakes is how many times each size is timed; the median is kept.
	costTakes = 5
	costTake  = 2 * time.Millisecond
)

// cipherCost fits perCall and perByte (ns) to xor's time at costSmall and
// costLarge bytes, at offsets that are not multiples of the block size
// (an engine's reads start anywhere).
func cipherCost(xor func(buf []byte, off int64)) (perCall, perByte float64) {
	buf := make([]byte, costLarge)
	perOp := func(n int) float64 {
		var off int64
		op := func() {
			xor(buf[:n], off)
			off += int64(n) + 5
		}
		measure(costTake/10, op)
		takes := make([]float64, costTakes)
		for i := range takes {
			k, d := measure(costTake, op)
			takes[i] = float64(d.Nanoseconds()) / float64(k)
		}
		return stats.Median(takes)
	}
	small, large := perOp(costSmall), perOp(costLarge)
	perByte = max((large-small)/float64(costLarge-costSmall), 0)
	return max(small-perByte*costSmall, 0), perByte
}

// cipherCostOf measures the cipher of an encrypted arm: atrest's
// XORKeyStreamAt, or the peer's new stream per call.
func cipherCostOf(impl string, st engine.Storage) (perCall, perByte float64, err error) {
	iv := make([]byte, ctr.IVSize)
	rand.Read(iv)
	if impl == ImplPeer {
		perCall, perByte = cipherCost(func(b []byte, off int64) { st.Peer.XORAt(b, b, iv, off) })
		return perCall, perByte, nil
	}
	key := make([]byte, st.Method.KeySize())
	rand.Read(key)
	s, err := ctr.New(st.Method, key, iv)
	if err != nil {
		return 0, 0, err
	}
	perCall, perByte = cipherCost(func(b []byte, off int64) { s.XORKeyStreamAt(b, b, uint64(off)) })
	return perCall, perByte, nil
}
