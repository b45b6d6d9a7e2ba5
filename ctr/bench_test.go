package ctr

import (
	"crypto/cipher"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/cpuclock"
)

// Benchmarks put crypto/cipher beside every kernel in the same process, so
// the ratio is what to read; benchstat -col /kernel lines them up. The
// cycles/B metric uses a clock calibrated in this run.

var benchSizes = []int{64, 512, 4 << 10, 16 << 10, 64 << 10, 1 << 20}

var clockHz = sync.OnceValue(cpuclock.Hz)

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func reportCycles(b *testing.B, n int) {
	perOp := b.Elapsed() / time.Duration(b.N)
	if c := cpuclock.CyclesPerByte(perOp, n, clockHz()); c > 0 {
		b.ReportMetric(c, "cycles/B")
	}
}

// baselineName is what a method's kernels are compared with: crypto/cipher
// over crypto/aes for AES, and gmsm (its own CTR) for SM4.
func baselineName(m Method) string {
	if m == SM4CTR {
		return "gmsm"
	}
	return "stdlib"
}

// BenchmarkXOR is sequential XORKeyStreamAt of one buffer on one core (the
// parallel path is off), against the baseline's CTR stream reused across
// iterations, its best case.
func BenchmarkXOR(b *testing.B) {
	defer SetParallelThreshold(SetParallelThreshold(0))
	for _, m := range cipherMethods {
		key, iv := randomBytes(b, m.KeySize()), randomBytes(b, IVSize)
		for _, n := range benchSizes {
			buf := make([]byte, n)
			prefix := fmt.Sprintf("method=%v/size=%s/kernel=", m, sizeName(n))
			b.Run(prefix+baselineName(m), func(b *testing.B) {
				loopXORKeyStream(b, cipher.NewCTR(referenceBlock(b, m, key), iv), buf)
				reportCycles(b, n)
			})
			for _, kernel := range Kernels(m) {
				b.Run(prefix+kernel, func(b *testing.B) {
					s := newWithKernel(b, m, kernel, key, iv)
					b.SetBytes(int64(n))
					var off uint64
					for b.Loop() {
						s.XORKeyStreamAt(buf, buf, off)
						off += uint64(n)
					}
					reportCycles(b, n)
				})
			}
		}
	}
}

// BenchmarkXORKeyStreamShort is sequential XORKeyStream in short pieces
// (a record at a time), on the default kernel, against the baseline's
// reused stream; both buffer keystream ahead.
func BenchmarkXORKeyStreamShort(b *testing.B) {
	for _, m := range cipherMethods {
		key, iv := randomBytes(b, m.KeySize()), randomBytes(b, IVSize)
		for _, n := range []int{16, 64, 100} {
			buf := make([]byte, n)
			prefix := fmt.Sprintf("method=%v/size=%s/kernel=", m, sizeName(n))
			b.Run(prefix+baselineName(m), func(b *testing.B) {
				loopXORKeyStream(b, cipher.NewCTR(referenceBlock(b, m, key), iv), buf)
			})
			b.Run(prefix+KernelName(m), func(b *testing.B) {
				s, err := New(m, key, iv)
				if err != nil {
					b.Fatal(err)
				}
				loopXORKeyStream(b, s, buf)
			})
		}
	}
}

// loopXORKeyStream runs s.XORKeyStream over buf, in place, once an
// iteration: a stream reused across calls.
func loopXORKeyStream(b *testing.B, s cipher.Stream, buf []byte) {
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		s.XORKeyStream(buf, buf)
	}
}

// BenchmarkRandomRead is a storage engine's read path: decrypt 4 KiB at a
// random byte offset in a 1 GiB file. A crypto/cipher (or gmsm) user has no
// random access, so the baseline makes a stream at IV + offset/16 and skips
// the rest.
func BenchmarkRandomRead(b *testing.B) {
	const n, fileSize = 4 << 10, 1 << 30
	offsets := make([]uint64, 4096)
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range offsets {
		offsets[i] = r.Uint64N(fileSize - n)
	}
	for _, m := range cipherMethods {
		key, iv := randomBytes(b, m.KeySize()), randomBytes(b, IVSize)
		buf := make([]byte, n)
		prefix := fmt.Sprintf("method=%v/kernel=", m)
		b.Run(prefix+baselineName(m), func(b *testing.B) {
			block := referenceBlock(b, m, key)
			var ctrIV [16]byte
			var skip [16]byte
			i := 0
			b.SetBytes(n)
			for b.Loop() {
				off := offsets[i%len(offsets)]
				i++
				copy(ctrIV[:], addToIV(iv, off/16))
				s := cipher.NewCTR(block, ctrIV[:])
				s.XORKeyStream(skip[:off%16], skip[:off%16])
				s.XORKeyStream(buf, buf)
			}
		})
		for _, kernel := range Kernels(m) {
			b.Run(prefix+kernel, func(b *testing.B) {
				s := newWithKernel(b, m, kernel, key, iv)
				i := 0
				b.SetBytes(n)
				for b.Loop() {
					s.XORKeyStreamAt(buf, buf, offsets[i%len(offsets)])
					i++
				}
			})
		}
	}
}

// BenchmarkParallel compares one 4 MiB XORKeyStreamAt on the parallel path
// with the same call on one core, on the default kernel. The "ceiling" mode
// is what the machine gives two cores at that moment: GOMAXPROCS goroutines
// each encrypting a 4 MiB buffer of their own with no hand-off at all (a
// virtual machine's cores are not always the cores they claim to be).
func BenchmarkParallel(b *testing.B) {
	const n = 4 << 20
	procs := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, procs)
	for i := range bufs {
		bufs[i] = make([]byte, n)
	}
	for _, m := range []Method{AES128CTR, AES256CTR, SM4CTR} {
		s, err := New(m, randomBytes(b, m.KeySize()), randomBytes(b, IVSize))
		if err != nil {
			b.Fatal(err)
		}
		prefix := fmt.Sprintf("method=%v/kernel=%s/mode=", m, s.Kernel())
		for _, mode := range []struct {
			name      string
			threshold int
		}{{"single", 0}, {"parallel", DefaultParallelThreshold}} {
			b.Run(prefix+mode.name, func(b *testing.B) {
				defer SetParallelThreshold(SetParallelThreshold(mode.threshold))
				b.SetBytes(n)
				for b.Loop() {
					s.XORKeyStreamAt(bufs[0], bufs[0], 0)
				}
				reportCycles(b, n)
			})
		}
		b.Run(prefix+"ceiling", func(b *testing.B) {
			defer SetParallelThreshold(SetParallelThreshold(0))
			b.SetBytes(n)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						s.XORKeyStreamAt(bufs[g], bufs[g], 0)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			reportCycles(b, n)
		})
	}
}

// BenchmarkNew is the cost of a Stream: key expansion and one allocation.
func BenchmarkNew(b *testing.B) {
	for _, m := range cipherMethods {
		key, iv := randomBytes(b, m.KeySize()), randomBytes(b, IVSize)
		b.Run(m.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := New(m, key, iv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
