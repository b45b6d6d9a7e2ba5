package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/ctr"
	"github.com/emmansun/gmsm/sm4"
)

// The raw cipher workloads: ctr against the library a user would otherwise
// call, each pair measured round by round in the same process.

// baseline is the library a method's kernels are compared with, and its
// block cipher.
func baseline(m ctr.Method, key []byte) (string, cipher.Block, error) {
	if m == ctr.SM4CTR {
		b, err := sm4.NewCipher(key)
		return ImplGMSM, b, err
	}
	b, err := aes.NewCipher(key)
	return ImplCryptoCipher, b, err
}

// newStream makes a Stream with a random key and IV, and returns them.
func newStream(m ctr.Method) (*ctr.Stream, []byte, []byte, error) {
	key, iv := make([]byte, m.KeySize()), make([]byte, ctr.IVSize)
	rand.Read(key)
	rand.Read(iv)
	s, err := ctr.New(m, key, iv)
	return s, key, iv, err
}

// speed returns the per-round ratios a[i]/b[i].
func speed(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

// stream measures XORKeyStreamAt on one core for every method and size,
// and the baseline's sequential stream (its best case, one stream reused)
// beside it. Buffers are distinct (out of place), so plaintext is a copy:
// the memory's speed, a ceiling for the ciphers.
func (r *run) stream() error {
	defer ctr.SetParallelThreshold(ctr.SetParallelThreshold(0))
	hz := r.res.Host.ClockHz
	for _, n := range r.cfg.Sizes {
		src, dst := make([]byte, n), make([]byte, n)
		rand.Read(src)
		for _, m := range r.cfg.Methods {
			s, key, iv, err := newStream(m)
			if err != nil {
				return err
			}
			own := &Figure{Workload: Stream, Method: m.String(), Impl: ImplAtrest, Kernel: s.Kernel(), Size: n, Metric: "throughput", Unit: MBPerSecond}
			var off uint64
			ops := []func(){func() {
				s.XORKeyStreamAt(dst, src, off)
				off += uint64(n)
			}}
			figs := []*Figure{own}
			if m != ctr.Plaintext {
				name, block, err := baseline(m, key)
				if err != nil {
					return err
				}
				bs := cipher.NewCTR(block, iv)
				ops = append(ops, func() { bs.XORKeyStream(dst, src) })
				figs = append(figs, &Figure{Workload: Stream, Method: m.String(), Impl: name, Size: n, Metric: "throughput", Unit: MBPerSecond})
			}
			for _, op := range ops {
				measure(r.cfg.Duration/10, op) // warm up
			}
			for round := range r.cfg.Rounds {
				for i := range ops {
					// Alternate which goes first, so neither always
					// runs on a core the other has just warmed.
					j := (i + round) % len(ops)
					k, d := measure(r.cfg.Duration, ops[j])
					figs[j].Samples = append(figs[j].Samples, float64(k)*float64(n)/d.Seconds()/1e6)
				}
				if err := r.step(fmt.Sprintf("%s %s %s", Stream, m, FormatSize(n))); err != nil {
					return err
				}
			}
			if len(figs) == 2 {
				own.Versus = &Versus{Relation: SpeedUp, Baseline: figs[1].Impl, Speed: speed(own.Samples, figs[1].Samples)}
			}
			for _, f := range figs {
				if hz > 0 {
					f.CyclesPerByte = hz / (stats.Median(f.Samples) * 1e6)
				}
			}
			r.add(figs...)
		}
	}
	return nil
}

// Random reads: 4 KiB at random byte offsets in a 1 GiB file.
const (
	readSize     = 4 << 10
	readFileSize = 1 << 30
	// maxLatencies bounds the calls timed per round (and the memory they
	// take); at about 200 ns a call it is reached only by rounds of over
	// 200 ms.
	maxLatencies = 1 << 20
)

// randomRead times single 4 KiB decryptions in place at random offsets,
// call by call, and reports the median and 99th percentile of each round,
// less the cost of reading the clock. A baseline user has no random
// access: each read makes a stream at IV + offset/16 and skips the rest of
// the block, as TiKV's and most Go code must.
func (r *run) randomRead() error {
	defer ctr.SetParallelThreshold(ctr.SetParallelThreshold(0))
	rng := mrand.New(mrand.NewPCG(1, 2))
	offsets := make([]uint64, 4096)
	for i := range offsets {
		offsets[i] = rng.Uint64N(readFileSize - readSize)
	}
	buf := make([]byte, readSize)
	lat := make([]float64, 0, maxLatencies)
	for _, m := range cipherMethods(r.cfg.Methods) {
		s, key, iv, err := newStream(m)
		if err != nil {
			return err
		}
		name, block, err := baseline(m, key)
		if err != nil {
			return err
		}
		var i int
		own := func() {
			s.XORKeyStreamAt(buf, buf, offsets[i%len(offsets)])
			i++
		}
		var counter, skip [16]byte
		base := func() {
			off := offsets[i%len(offsets)]
			i++
			addIV(counter[:], iv, off/16)
			bs := cipher.NewCTR(block, counter[:])
			bs.XORKeyStream(skip[:off%16], skip[:off%16])
			bs.XORKeyStream(buf, buf)
		}
		ops := []func(){own, base}
		var figs [2][2]*Figure // [impl][p50, p99]
		for j, impl := range []string{ImplAtrest, name} {
			kernel := ""
			if j == 0 {
				kernel = s.Kernel()
			}
			for q, metric := range []string{"p50", "p99"} {
				figs[j][q] = &Figure{Workload: RandomRead, Method: m.String(), Impl: impl, Kernel: kernel, Size: readSize, Metric: metric, Unit: Nanoseconds}
			}
		}
		for _, op := range ops {
			measure(r.cfg.Duration/10, op)
		}
		for round := range r.cfg.Rounds {
			for k := range ops {
				j := (k + round) % len(ops)
				p50, p99 := r.latencies(lat, ops[j])
				figs[j][0].Samples = append(figs[j][0].Samples, p50)
				figs[j][1].Samples = append(figs[j][1].Samples, p99)
			}
			if err := r.step(fmt.Sprintf("%s %s", RandomRead, m)); err != nil {
				return err
			}
		}
		for q := range 2 {
			own, base := figs[0][q], figs[1][q]
			// Latencies: the baseline's over ours is how much faster.
			own.Versus = &Versus{Relation: SpeedUp, Baseline: name, Speed: speed(base.Samples, own.Samples)}
			r.add(own, base)
		}
	}
	return nil
}

// latencies times op call by call for one round and returns the 50th and
// 99th percentiles in nanoseconds, less the clock's own cost. Successive
// clock readings bracket each call, so each gap holds one call and one
// reading. The clock's cost is a constant, so it is taken off the two
// percentiles rather than off every gap inside the timed loop.
func (r *run) latencies(lat []float64, op func()) (p50, p99 float64) {
	lat = lat[:0]
	start := nanotime()
	last := start
	deadline := start + r.cfg.Duration.Nanoseconds()
	for len(lat) < cap(lat) {
		op()
		now := nanotime()
		lat = append(lat, float64(now-last))
		last = now
		if now >= deadline {
			break
		}
	}
	slices.Sort(lat)
	return max(quantile(lat, 0.50)-r.timerNs, 0), max(quantile(lat, 0.99)-r.timerNs, 0)
}

// quantile is the q-quantile of sorted xs, interpolating between ranks.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i]*(1-frac) + sorted[i+1]*frac
}

// epoch is the origin of nanotime.
var epoch = time.Now()

// nanotime reads the monotonic clock in nanoseconds.
func nanotime() int64 { return int64(time.Since(epoch)) }

// addIV sets dst to the 128-bit big-endian iv + n.
func addIV(dst, iv []byte, n uint64) {
	copy(dst, iv)
	carry := n
	for i := 15; i >= 0 && carry != 0; i-- {
		sum := uint64(dst[i]) + carry&0xff
		dst[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
}

// parallel measures one large XORKeyStreamAt (the parallel path) with
// GOMAXPROCS at each thread count, the counts taking turns within each
// round. One thread is the serial kernel: the baseline of the scaling.
func (r *run) parallel() error {
	counts := threadCounts(r.cfg.Threads)
	prev := runtime.GOMAXPROCS(r.cfg.Threads)
	defer runtime.GOMAXPROCS(prev)
	defer ctr.SetParallelThreshold(ctr.SetParallelThreshold(ctr.DefaultParallelThreshold))
	n := r.cfg.ParallelSize
	buf := make([]byte, n)
	for _, m := range cipherMethods(r.cfg.Methods) {
		s, _, _, err := newStream(m)
		if err != nil {
			return err
		}
		op := func() { s.XORKeyStreamAt(buf, buf, 0) }
		// The first parallel call starts ctr's helpers, as many as
		// GOMAXPROCS allows now: the largest count.
		measure(r.cfg.Duration/10, op)
		figs := make([]*Figure, len(counts))
		for i, t := range counts {
			figs[i] = &Figure{Workload: Parallel, Method: m.String(), Impl: ImplAtrest, Kernel: s.Kernel(), Size: n, Threads: t, Metric: "throughput", Unit: MBPerSecond}
		}
		for round := range r.cfg.Rounds {
			for k := range counts {
				i := (k + round) % len(counts)
				runtime.GOMAXPROCS(counts[i])
				ops, d := measure(r.cfg.Duration, op)
				figs[i].Samples = append(figs[i].Samples, float64(ops)*float64(n)/d.Seconds()/1e6)
				if err := r.step(fmt.Sprintf("%s %s %d threads", Parallel, m, counts[i])); err != nil {
					return err
				}
			}
			runtime.GOMAXPROCS(r.cfg.Threads)
		}
		for i, f := range figs {
			if i > 0 {
				f.Versus = &Versus{Relation: Scaling, Baseline: "1 thread", Speed: speed(f.Samples, figs[0].Samples)}
			}
		}
		r.add(figs...)
	}
	return nil
}
