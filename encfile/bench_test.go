package encfile

import (
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// Sub-benchmarks are named key=value so that benchstat -col /impl lines
// the implementations up:
//
//	impl=os       *os.File, no encryption: the floor
//	impl=os+xor   *os.File.ReadAt, then XORKeyStreamAt on the same buffer:
//	              what an encrypted read costs at least
//	impl=encfile  File.ReadAt
//
// The target is encfile within 100 ns of os+xor, with 0 allocs/op.

const (
	benchFileSize = 64 << 20
	benchBlock    = 4 << 10
	benchOffsets  = 1 << 14 // a power of two
)

// benchFile writes a benchFileSize file of random bytes through a File
// with a stream for m, syncs it and reads it once so that it sits in the
// page cache. It returns the File and the Stream, which for Plaintext is
// the Plaintext stream (the File keeps none).
func benchFile(b *testing.B, m ctr.Method) (*File, *ctr.Stream) {
	b.Helper()
	s := newKey(b, m).stream(b)
	osf, _ := openTemp(b)
	f := New(osf, s)
	b.Cleanup(func() { f.Close() })
	rng := mrand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for range benchFileSize / len(buf) {
		rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	for off := int64(0); off < benchFileSize; off += int64(len(buf)) {
		if _, err := osf.ReadAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	return f, s
}

// benchOffsetTable returns random offsets for benchBlock-byte reads inside
// the file, on benchBlock boundaries or anywhere, so that the benchmark
// loop does not run the generator.
func benchOffsetTable(aligned bool) []int64 {
	rng := mrand.New(mrand.NewPCG(7, 11))
	offs := make([]int64, benchOffsets)
	for i := range offs {
		if aligned {
			offs[i] = rng.Int64N(benchFileSize/benchBlock) * benchBlock
		} else {
			offs[i] = rng.Int64N(benchFileSize - benchBlock + 1)
		}
	}
	return offs
}

// BenchmarkReadAt4K is a 4 KiB ReadAt at random offsets of a 64 MiB file in
// the page cache: the random-read path of a storage engine.
func BenchmarkReadAt4K(b *testing.B) {
	for _, m := range ctr.Methods {
		b.Run("method="+m.String(), func(b *testing.B) {
			f, s := benchFile(b, m)
			osf := f.OSFile()
			p := make([]byte, benchBlock)
			for _, aligned := range []bool{true, false} {
				offs := benchOffsetTable(aligned)
				prefix := "align=4KiB/impl="
				if !aligned {
					prefix = "align=none/impl="
				}
				impls := []struct {
					name string
					read func(off int64) (int, error)
				}{
					{"os", func(off int64) (int, error) { return osf.ReadAt(p, off) }},
					{"os+xor", func(off int64) (int, error) {
						n, err := osf.ReadAt(p, off)
						s.XORKeyStreamAt(p[:n], p[:n], uint64(off))
						return n, err
					}},
					{"encfile", func(off int64) (int, error) { return f.ReadAt(p, off) }},
				}
				for _, impl := range impls {
					b.Run(prefix+impl.name, func(b *testing.B) {
						b.ReportAllocs()
						b.SetBytes(benchBlock)
						i := 0
						for b.Loop() {
							if _, err := impl.read(offs[i&(benchOffsets-1)]); err != nil {
								b.Fatal(err)
							}
							i++
						}
					})
				}
			}
		})
	}
}

// BenchmarkWrite64K is sequential 64 KiB writes into the page cache (no
// sync), starting over at the top of a 64 MiB file: *os.File.Write
// against File.Write (which encrypts through a pooled buffer) and
// File.WriteInPlace (which encrypts the caller's buffer).
func BenchmarkWrite64K(b *testing.B) {
	const block = 64 << 10
	for _, m := range ctr.Methods {
		b.Run("method="+m.String(), func(b *testing.B) {
			k := newKey(b, m)
			impls := []struct {
				name  string
				write func(f *File, p []byte) (int, error)
			}{
				{"os", func(f *File, p []byte) (int, error) { return f.OSFile().Write(p) }},
				{"encfile", (*File).Write},
				{"encfile-inplace", (*File).WriteInPlace},
			}
			for _, impl := range impls {
				b.Run("impl="+impl.name, func(b *testing.B) {
					f, _ := newTestFile(b, k)
					p := make([]byte, block)
					mrand.NewChaCha8([32]byte{2}).Read(p)
					b.ReportAllocs()
					b.SetBytes(block)
					written := 0
					for b.Loop() {
						if written == benchFileSize {
							// Both positions: *os.File.Write uses the
							// OS offset, File.Write its own.
							if _, err := f.OSFile().Seek(0, io.SeekStart); err != nil {
								b.Fatal(err)
							}
							if _, err := f.Seek(0, io.SeekStart); err != nil {
								b.Fatal(err)
							}
							written = 0
						}
						if _, err := impl.write(f, p); err != nil {
							b.Fatal(err)
						}
						written += block
					}
				})
			}
		})
	}
}
