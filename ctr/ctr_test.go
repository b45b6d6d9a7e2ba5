package ctr

import (
	"bytes"
	"crypto/aes"
	"fmt"
	"sync"
	"testing"
)

// NIST SP 800-38A, appendix F.5: CTR-AES128/192/256.Encrypt.
func TestNISTKnownAnswers(t *testing.T) {
	const (
		iv        = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
		plaintext = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
			"30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710"
	)
	tests := []struct {
		method     Method
		key        string
		ciphertext string
	}{
		{AES128CTR, "2b7e151628aed2a6abf7158809cf4f3c",
			"874d6191b620e3261bef6864990db6ce" + "9806f66b7970fdff8617187bb9fffdff" +
				"5ae4df3edbd5d35e5b4f09020db03eab" + "1e031dda2fbe03d1792170a0f3009cee"},
		{AES192CTR, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
			"1abc932417521ca24f2b0459fe7e6e0b" + "090339ec0aa6faefd5ccc2c6f4ce8e94" +
				"1e36b26bd1ebc670d1bd1d665620abf7" + "4f78a7f6d29809585a97daec58c6b050"},
		{AES256CTR, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
			"601ec313775789a5b7a7f504bbf3d228" + "f443e3ca4d62b59aca84e990cacaf5c5" +
				"2b0930daa23de94ce87017ba2d84988d" + "dfc9c58db67aada613c2dd08457941a6"},
	}
	for _, tc := range tests {
		forEachKernel(t, tc.method, func(t *testing.T, kernel string) {
			s := newWithKernel(t, tc.method, kernel, unhex(t, tc.key), unhex(t, iv))
			pt, want := unhex(t, plaintext), unhex(t, tc.ciphertext)
			got := make([]byte, len(pt))
			s.XORKeyStreamAt(got, pt, 0)
			if !bytes.Equal(got, want) {
				t.Fatalf("encrypt:\n got %x\nwant %x", got, want)
			}
			// Decryption is the same operation, here in place and block by block.
			for off := 0; off < len(got); off += 16 {
				s.XORKeyStreamAt(got[off:off+16], got[off:off+16], uint64(off))
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("decrypt:\n got %x\nwant %x", got, pt)
			}
		})
	}
}

// The portable block function must agree with crypto/aes on random keys
// and blocks: every kernel's key schedule comes from it.
func TestGenericBlockMatchesCryptoAES(t *testing.T) {
	r := newRand(t)
	for _, keyLen := range []int{16, 24, 32} {
		for range 200 {
			key := randomBytes(t, keyLen)
			var rk [aesMaxRoundKeyBytes]byte
			expandAESKey(key, &rk)
			hi, lo := r.Uint64(), r.Uint64()
			var in, want, got [16]byte
			putCounter(in[:], hi, lo)
			block, err := aes.NewCipher(key)
			if err != nil {
				t.Fatal(err)
			}
			block.Encrypt(want[:], in[:])
			w0, w1, w2, w3 := aesEncryptCounter(&rk, aesRounds(keyLen), hi, lo)
			putWords(got[:], w0, w1, w2, w3)
			if got != want {
				t.Fatalf("key %x block %x: got %x, want %x", key, in, got, want)
			}
		}
	}
}

func putCounter(b []byte, hi, lo uint64) {
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
}

func putWords(b []byte, w ...uint32) {
	for i, x := range w {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(x>>24), byte(x>>16), byte(x>>8), byte(x)
	}
}

// Every offset 0..47 with every length 0..300, in place and out of place.
func TestEveryOffsetAndLength(t *testing.T) {
	const maxOff, maxLen = 47, 300
	// Under -short (the race detector pass of make test) every length is
	// still run, at every third offset; the full pass runs them all.
	offStep := 1
	if testing.Short() {
		offStep = 3
	}
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, maxOff+maxLen+1))
		src := randomBytes(t, maxLen+1)
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			out := make([]byte, maxLen+1+16)
			for off := 0; off <= maxOff; off += offStep {
				for n := 0; n <= maxLen; n++ {
					want := xorBytes(src[:n], ks[off:off+n])
					// Out of place, with a guard byte after dst.
					out[n] = 0xa5
					s.XORKeyStreamAt(out[:n], src[:n], uint64(off))
					if !bytes.Equal(out[:n], want) || out[n] != 0xa5 {
						t.Fatalf("offset %d length %d: out of place mismatch", off, n)
					}
					// In place.
					copy(out, src[:n])
					s.XORKeyStreamAt(out[:n], out[:n], uint64(off))
					if !bytes.Equal(out[:n], want) {
						t.Fatalf("offset %d length %d: in place mismatch", off, n)
					}
				}
			}
		})
	}
}

// Lengths on and around the kernels' batch sizes (a set of blocks, two
// sets, the byte-sliced kilobyte of sm4-gfni512, the 32 blocks of
// aes-vaes512), where a call moves from one loop to the next and the last
// batch is partial, at aligned and unaligned offsets, in place and out of
// place.
func TestBatchBoundaries(t *testing.T) {
	var lengths []int
	for _, base := range []int{256, 512, 768, 1024, 2048, 3072, 4096} {
		for _, d := range []int{-255, -17, -1, 0, 1, 15, 16, 17, 255, 256, 257} {
			lengths = append(lengths, base+d)
		}
	}
	lengths = append(lengths, 4096+5) // a Pebble block with its trailer
	offsets := []uint64{0, 1, 15, 16, 1000}
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		const span = 8 << 10
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, span))
		src := randomBytes(t, span)
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			out := make([]byte, span+1)
			for _, off := range offsets {
				for _, n := range lengths {
					want := xorBytes(src[:n], ks[off:off+uint64(n)])
					out[n] = 0xa5
					s.XORKeyStreamAt(out[:n], src[:n], off)
					if !bytes.Equal(out[:n], want) || out[n] != 0xa5 {
						t.Fatalf("offset %d length %d: out of place mismatch at byte %d", off, n, firstDiff(out[:n], want))
					}
					copy(out, src[:n])
					s.XORKeyStreamAt(out[:n], out[:n], off)
					if !bytes.Equal(out[:n], want) {
						t.Fatalf("offset %d length %d: in place mismatch at byte %d", off, n, firstDiff(out[:n], want))
					}
				}
			}
		})
	}
}

// TestCounterCarryBoundaries starts calls at every block of the eight
// before a carry out of the counter's low byte, its low 16 bits, its low 64
// bits (where the Go side splits calls) and its whole 128 bits, and at
// every block offset 0-8 from there: aes-aesni makes each group of four
// blocks by XORing the block number into one base block aligned to four,
// so a carry must only ever happen between groups, and the first batch of
// a call skips the blocks before its start.
func TestCounterCarryBoundaries(t *testing.T) {
	var ivs []string
	for r := 1; r <= 8; r++ {
		lows := []uint64{0x100 - uint64(r), 0x10000 - uint64(r), -uint64(r)}
		for _, lo := range lows {
			ivs = append(ivs, fmt.Sprintf("0123456789abcdef%016x", lo))
		}
		ivs = append(ivs, fmt.Sprintf("ffffffffffffffff%016x", -uint64(r)))
	}
	lengths := []int{1, 16, 100, 16*8*3 + 5, 1000, 4096}
	for _, m := range cipherMethods {
		key := randomBytes(t, m.KeySize())
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			for _, ivHex := range ivs {
				iv := unhex(t, ivHex)
				s := newWithKernel(t, m, kernel, key, iv)
				for blk := uint64(0); blk <= 8; blk++ {
					for _, n := range lengths {
						off := 16 * blk
						if n == 100 {
							off += 3
						}
						src := randomBytes(t, n)
						want := referenceXOR(t, m, key, iv, off, src)
						got := make([]byte, n)
						s.XORKeyStreamAt(got, src, off)
						if !bytes.Equal(got, want) {
							t.Fatalf("IV %s offset %d length %d: mismatch at byte %d", ivHex, off, n, firstDiff(got, want))
						}
						s.XORKeyStreamAt(src, src, off)
						if !bytes.Equal(src, want) {
							t.Fatalf("IV %s offset %d length %d: in place mismatch at byte %d", ivHex, off, n, firstDiff(src, want))
						}
					}
				}
			}
		})
	}
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// Random offsets up to 1 MiB with lengths up to 1 MiB; large ones take the
// parallel path.
func TestRandomOffsetsAndLengths(t *testing.T) {
	const span = 1 << 20
	r := newRand(t)
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, 2*span))
		src := randomBytes(t, span)
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			out := make([]byte, span)
			rounds := 40
			if testing.Short() {
				rounds = 10
			}
			for i := range rounds {
				off := r.IntN(span)
				n := r.IntN(span + 1)
				if i%4 == 0 {
					n = r.IntN(8192) // many small reads too
				}
				want := xorBytes(src[:n], ks[off:off+n])
				if i%2 == 0 {
					s.XORKeyStreamAt(out[:n], src[:n], uint64(off))
				} else {
					copy(out, src[:n])
					s.XORKeyStreamAt(out[:n], out[:n], uint64(off))
				}
				if !bytes.Equal(out[:n], want) {
					t.Fatalf("offset %d length %d: mismatch at byte %d", off, n, firstDiff(out[:n], want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// IVs a few blocks before the low 64 bits wrap (the kernels' split point)
// and before the whole 128-bit counter wraps.
func TestCounterWrap(t *testing.T) {
	ivs := map[string]string{
		"2^64-3":  "0123456789abcdeffffffffffffffffd",
		"2^64-1":  "0123456789abcdefffffffffffffffff",
		"2^128-3": "fffffffffffffffffffffffffffffffd",
		"2^128-1": "ffffffffffffffffffffffffffffffff",
	}
	lengths := []int{1, 15, 16, 17, 47, 48, 64, 100, 300, 1000, 4096, 70000}
	for _, m := range cipherMethods {
		key := randomBytes(t, m.KeySize())
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			for name, ivHex := range ivs {
				iv := unhex(t, ivHex)
				s := newWithKernel(t, m, kernel, key, iv)
				for off := uint64(0); off < 80; off += 7 {
					for _, n := range lengths {
						src := randomBytes(t, n)
						want := referenceXOR(t, m, key, iv, off, src)
						got := make([]byte, n)
						s.XORKeyStreamAt(got, src, off)
						if !bytes.Equal(got, want) {
							t.Fatalf("IV %s offset %d length %d: mismatch at byte %d", name, off, n, firstDiff(got, want))
						}
					}
				}
			}
		})
	}
}

// Offsets far into the stream: the block index is added to the IV as a
// 128-bit number.
func TestLargeOffsets(t *testing.T) {
	offsets := []uint64{1 << 32, 1<<36 + 5, 1<<60 - 100, 1<<64 - 1000, 1<<64 - 16, 1<<64 - 1}
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), unhex(t, "00000000000000ffffffffffffff0000")
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			for _, off := range offsets {
				n := 1000
				if off > 1<<64-1000 {
					n = int(-off) // up to the end of the 2^64-byte stream
				}
				src := randomBytes(t, n)
				got := make([]byte, n)
				s.XORKeyStreamAt(got, src, off)
				if want := referenceXOR(t, m, key, iv, off, src); !bytes.Equal(got, want) {
					t.Fatalf("offset %d: mismatch", off)
				}
			}
		})
	}
}

// XORKeyStream over random-sized pieces equals one XORKeyStreamAt and
// crypto/cipher's stream.
func TestPiecesEqualOneCall(t *testing.T) {
	r := newRand(t)
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		src := randomBytes(t, 300_000)
		want := referenceXOR(t, m, key, iv, 0, src)
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			one := make([]byte, len(src))
			newWithKernel(t, m, kernel, key, iv).XORKeyStreamAt(one, src, 0)
			if !bytes.Equal(one, want) {
				t.Fatal("one call differs from crypto/cipher")
			}
			s := newWithKernel(t, m, kernel, key, iv)
			pieces := make([]byte, len(src))
			for done := 0; done < len(src); {
				n := min(len(src)-done, r.IntN(5000))
				if r.IntN(10) == 0 {
					n = min(len(src)-done, r.IntN(100_000))
				}
				s.XORKeyStream(pieces[done:done+n], src[done:done+n])
				done += n
			}
			if !bytes.Equal(pieces, want) {
				t.Fatalf("pieces differ from one call at byte %d", firstDiff(pieces, want))
			}
		})
	}
}

// XORKeyStream's short calls go through its keystream buffer: pieces of
// 0 to 300 bytes (most shorter than the buffer), in place and out of
// place, with Seeks back into the buffer, forward past it, to odd offsets,
// and to the last bytes of the 2^64-byte stream (where the buffer would
// not fit) with an IV about to wrap 2^128, each piece checked against
// crypto/cipher or gmsm at its offset.
func TestXORKeyStreamShortPieces(t *testing.T) {
	r := newRand(t)
	seeks := []uint64{0, 5, 250, 256, 1000, 1<<32 + 7, 1<<64 - 300, 1<<64 - 17, 1<<64 - 1}
	for _, m := range cipherMethods {
		key := randomBytes(t, m.KeySize())
		for _, ivHex := range []string{"0123456789abcdef0123456789abcdef", "fffffffffffffffffffffffffffffff0"} {
			iv := unhex(t, ivHex)
			forEachKernel(t, m, func(t *testing.T, kernel string) {
				s := newWithKernel(t, m, kernel, key, iv)
				pos := uint64(0)
				buf := make([]byte, 300)
				for i := range 400 {
					if i%25 == 24 {
						pos = seeks[r.IntN(len(seeks))]
						if r.IntN(2) == 0 && pos > 40 {
							pos -= uint64(r.IntN(40)) // back into a buffer just filled
						}
						s.Seek(pos)
					}
					n := r.IntN(64)
					if r.IntN(8) == 0 {
						n = r.IntN(len(buf) + 1)
					}
					if rest := -pos; pos != 0 && uint64(n) > rest {
						n = int(rest) // up to the end of the stream, as XORKeyStreamAt allows
					}
					src := randomBytes(t, n)
					want := referenceXOR(t, m, key, iv, pos, src)
					got := buf[:n]
					if i%2 == 0 {
						s.XORKeyStream(got, src)
					} else {
						copy(got, src)
						s.XORKeyStream(got, got)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("IV %s piece %d at %d, %d bytes: mismatch at byte %d", ivHex, i, pos, n, firstDiff(got, want))
					}
					pos += uint64(n)
				}
			})
		}
	}
}

func TestSeek(t *testing.T) {
	key, iv := randomBytes(t, 16), randomBytes(t, IVSize)
	s, err := New(AES128CTR, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	src := randomBytes(t, 100)
	got := make([]byte, 100)
	s.Seek(12345)
	s.XORKeyStream(got[:30], src[:30])
	s.XORKeyStream(got[30:], src[30:])
	if want := referenceXOR(t, AES128CTR, key, iv, 12345, src); !bytes.Equal(got, want) {
		t.Fatal("XORKeyStream after Seek differs from the stream at that offset")
	}
}

// Many goroutines share one Stream; run under -race by make test.
func TestConcurrentUse(t *testing.T) {
	const span = 1 << 20
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, span+(1<<18)))
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := newRand(t)
					for i := range 50 {
						off := r.IntN(span)
						n := r.IntN(4097)
						if (g+i)%25 == 0 {
							n = 1<<18 - r.IntN(1000) // parallel path from many callers
						}
						buf := make([]byte, n)
						s.XORKeyStreamAt(buf, buf, uint64(off))
						if !bytes.Equal(buf, ks[off:off+n]) {
							errs <- fmt.Errorf("goroutine %d: offset %d length %d: mismatch", g, off, n)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestParallelPath(t *testing.T) {
	defer SetParallelThreshold(SetParallelThreshold(128 << 10))
	r := newRand(t)
	key, iv := randomBytes(t, 32), randomBytes(t, IVSize)
	src := randomBytes(t, 4<<20)
	for _, n := range []int{128 << 10, 128<<10 + 1, 1<<20 - 7, 4 << 20} {
		for range 3 {
			off := uint64(r.IntN(1 << 20))
			want := referenceXOR(t, AES256CTR, key, iv, off, src[:n])
			forEachKernel(t, AES256CTR, func(t *testing.T, kernel string) {
				got := make([]byte, n)
				newWithKernel(t, AES256CTR, kernel, key, iv).XORKeyStreamAt(got, src[:n], off)
				if !bytes.Equal(got, want) {
					t.Fatalf("length %d offset %d: mismatch at byte %d", n, off, firstDiff(got, want))
				}
			})
		}
	}
	if got := SetParallelThreshold(0); got != 128<<10 {
		t.Fatalf("SetParallelThreshold returned %d, want the previous 128 KiB", got)
	}
	if ParallelThreshold() != 0 {
		t.Fatal("threshold 0 must turn the parallel path off")
	}
}

func TestNoAllocations(t *testing.T) {
	iv := randomBytes(t, IVSize)
	big := make([]byte, 512<<10) // over the parallel threshold: 8 chunks
	small := make([]byte, 4096+64)
	for _, m := range Methods {
		key := randomBytes(t, m.KeySize())
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			cases := []struct {
				name string
				f    func()
			}{
				{"16B", func() { s.XORKeyStreamAt(small[:16], small[:16], 0) }},
				{"4KiB-odd-offset", func() { s.XORKeyStreamAt(small[3:4099], small[3:4099], 1<<20+13) }},
				{"out-of-place", func() { s.XORKeyStreamAt(small[:4096], big[:4096], 77) }},
				{"parallel-512KiB", func() { s.XORKeyStreamAt(big, big, 5) }},
				{"sequential", func() { s.XORKeyStream(small[:100], small[:100]) }},
			}
			for _, c := range cases {
				if a := testing.AllocsPerRun(20, c.f); a != 0 {
					t.Errorf("%s: %v allocations per call, want 0", c.name, a)
				}
			}
		})
	}
}
