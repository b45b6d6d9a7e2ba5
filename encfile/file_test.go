package encfile

import (
	"bytes"
	"errors"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/atrest/atrest/ctr"
)

// writeOp is one way of writing through a File.
type writeOp int

const (
	opWrite writeOp = iota
	opWriteAt
	opWriteInPlace
	opWriteAtInPlace
)

func (op writeOp) String() string {
	return [...]string{"Write", "WriteAt", "WriteInPlace", "WriteAtInPlace"}[op]
}

func (op writeOp) positional() bool { return op == opWriteAt || op == opWriteAtInPlace }
func (op writeOp) inPlace() bool    { return op == opWriteInPlace || op == opWriteAtInPlace }

// do writes p at off with op, seeking first for the ops that use the
// position, and checks the count, the error and the position after.
func (op writeOp) do(t *testing.T, f *File, p []byte, off int64) {
	t.Helper()
	var n int
	var err error
	if op.positional() {
		before := tell(t, f)
		if op == opWriteAt {
			n, err = f.WriteAt(p, off)
		} else {
			n, err = f.WriteAtInPlace(p, off)
		}
		if pos := tell(t, f); pos != before {
			t.Fatalf("%v moved the position from %d to %d", op, before, pos)
		}
	} else {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if op == opWrite {
			n, err = f.Write(p)
		} else {
			n, err = f.WriteInPlace(p)
		}
		if pos := tell(t, f); pos != off+int64(n) {
			t.Fatalf("%v of %d bytes at %d left the position at %d", op, n, off, pos)
		}
	}
	if n != len(p) || err != nil {
		t.Fatalf("%v of %d bytes at %d = %d, %v", op, len(p), off, n, err)
	}
}

// randomSize is mostly small sizes, some around the 64 KiB chunk and a
// few several chunks long.
func randomSize(rng *mrand.Rand) int {
	switch r := rng.IntN(100); {
	case r < 5:
		return 0
	case r < 40:
		return 1 + rng.IntN(48)
	case r < 80:
		return 1 + rng.IntN(8<<10)
	case r < 95:
		return chunkSize - 64 + rng.IntN(128)
	default:
		return 1 + rng.IntN(4*chunkSize)
	}
}

// TestDifferential writes random data with a random mix of the four write
// calls at random offsets (unaligned, past the end, overlapping) and checks
// the file against a model of its bytes on disk: the plaintext XOR an
// independently computed keystream where written, zero in holes. Reads
// through the File, sequential and positional in random sizes, must return
// the on-disk bytes XOR keystream: the plaintext where written.
func TestDifferential(t *testing.T) {
	ops, span := 150, 1<<20
	if testing.Short() {
		ops, span = 60, 512<<10
	}
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			rng := newRand(t)
			k := newKey(t, m)
			f, path := newTestFile(t, k)
			osf := f.OSFile()

			var plain []byte   // what was written, by offset
			var written []bool // which bytes were written
			record := func(p []byte, off int64) {
				end := int(off) + len(p)
				if end > len(plain) {
					plain = append(plain, make([]byte, end-len(plain))...)
					written = append(written, make([]bool, end-len(written))...)
				}
				copy(plain[off:], p)
				for i := range p {
					written[int(off)+i] = true
				}
			}

			for i := range ops + 1 {
				n := randomSize(rng)
				off := rng.Int64N(int64(span))
				if i == ops {
					// Last, a write well past the end: a hole for sure.
					n, off = 1+rng.IntN(100), int64(len(plain)+1000+rng.IntN(5000))
				}
				p := make([]byte, n)
				fillRandom(rng, p)
				orig := bytes.Clone(p)
				op := writeOp(rng.IntN(4))
				op.do(t, f, p, off)
				if op.inPlace() {
					want := xorBytes(orig, k.keystream(t, int(off)+n)[off:])
					if !bytes.Equal(p, want) {
						t.Fatalf("%v at %d: buffer is not the ciphertext afterwards", op, off)
					}
				} else if !bytes.Equal(p, orig) {
					t.Fatalf("%v at %d modified the caller's buffer", op, off)
				}
				record(orig, off)
			}

			size := len(plain)
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != int64(size) {
				t.Fatalf("Stat size %d, want %d", fi.Size(), size)
			}
			if pos, err := osf.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
				t.Fatalf("OS file offset moved to %d (%v)", pos, err)
			}

			ks := k.keystream(t, size)
			disk := make([]byte, size)
			holes := 0
			for i := range disk {
				if written[i] {
					disk[i] = plain[i] ^ ks[i]
				} else {
					holes++
				}
			}
			if holes == 0 {
				t.Fatal("no hole in the file: the test lost its sparse case")
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, disk) {
				t.Fatalf("bytes on disk differ from plaintext XOR keystream (first at %d)", firstDiff(raw, disk))
			}
			want := xorBytes(disk, ks)
			for i := range want {
				if written[i] && want[i] != plain[i] {
					t.Fatalf("model broken at %d", i)
				}
			}

			// Sequential reads in random sizes.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var got []byte
			for {
				buf := make([]byte, 1+rng.IntN(3*chunkSize/2))
				n, err := f.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					if n != 0 {
						t.Fatalf("Read returned %d bytes with io.EOF", n)
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					t.Fatal("Read returned 0, nil")
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Read returned wrong bytes (first at %d)", firstDiff(got, want))
			}

			// Positional reads at random offsets and sizes.
			for range 200 {
				off := rng.IntN(size)
				buf := make([]byte, 1+rng.IntN(3*chunkSize/2))
				n, err := f.ReadAt(buf, int64(off))
				wantN := min(len(buf), size-off)
				if n != wantN {
					t.Fatalf("ReadAt(%d bytes, %d) = %d, want %d", len(buf), off, n, wantN)
				}
				if (n < len(buf)) != (err == io.EOF) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", len(buf), off, n, err)
				}
				if !bytes.Equal(buf[:n], want[off:off+n]) {
					t.Fatalf("ReadAt(%d bytes, %d) returned wrong bytes", len(buf), off)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestBuffers checks what each write call does to the caller's buffer, for
// a buffer of several chunks at an unaligned offset: Write and WriteAt
// leave it alone, the in-place calls leave exactly the bytes on disk.
func TestBuffers(t *testing.T) {
	const off, n = 12345, 3*chunkSize + 77
	for _, m := range ctr.Methods {
		for op := opWrite; op <= opWriteAtInPlace; op++ {
			t.Run(m.String()+"/"+op.String(), func(t *testing.T) {
				k := newKey(t, m)
				f, path := newTestFile(t, k)
				p := randomBytes(t, n)
				orig := bytes.Clone(p)
				op.do(t, f, p, off)
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				cipherText := xorBytes(orig, k.keystream(t, off+n)[off:])
				if !bytes.Equal(raw[off:], cipherText) {
					t.Fatal("bytes on disk are not the ciphertext")
				}
				if op.inPlace() {
					if !bytes.Equal(p, cipherText) {
						t.Fatal("buffer does not hold the ciphertext")
					}
				} else if !bytes.Equal(p, orig) {
					t.Fatal("buffer was modified")
				}
				if m != ctr.Plaintext && bytes.Equal(cipherText, orig) {
					t.Fatal("ciphertext equals plaintext")
				}
			})
		}
	}
}

func TestNewStream(t *testing.T) {
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			osf, _ := openTemp(t)
			s := newKey(t, m).stream(t)
			f := New(osf, s)
			defer f.Close()
			want := s
			if m == ctr.Plaintext {
				want = nil
			}
			if f.Stream() != want {
				t.Fatalf("Stream() = %p, want %p", f.Stream(), want)
			}
			if f.OSFile() != osf || f.Name() != osf.Name() || f.Fd() != osf.Fd() {
				t.Fatal("OSFile, Name or Fd not forwarded")
			}
		})
	}
	osf, _ := openTemp(t)
	f := New(osf, nil)
	defer f.Close()
	if f.Stream() != nil {
		t.Fatal("Stream() of a nil stream is not nil")
	}
}

// TestPosition covers Read at and past the end, Seek from each origin and
// its errors, Truncate and Stat, and that the OS file offset stays put.
func TestPosition(t *testing.T) {
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			k := newKey(t, m)
			f, _ := newTestFile(t, k)
			plain := randomBytes(t, 100)
			if _, err := f.OSFile().Seek(7, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			if n, err := f.Write(plain); n != 100 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if pos := tell(t, f); pos != 100 {
				t.Fatalf("position %d after writing 100 bytes", pos)
			}
			seek := func(off int64, whence int, want int64) {
				t.Helper()
				got, err := f.Seek(off, whence)
				if got != want || err != nil {
					t.Fatalf("Seek(%d, %d) = %d, %v; want %d", off, whence, got, err, want)
				}
			}
			seekErr := func(off int64, whence int) {
				t.Helper()
				before := tell(t, f)
				got, err := f.Seek(off, whence)
				var pe *os.PathError
				if err == nil || !errors.As(err, &pe) {
					t.Fatalf("Seek(%d, %d) = %d, %v; want a *os.PathError", off, whence, got, err)
				}
				if pos := tell(t, f); pos != before {
					t.Fatalf("failed Seek moved the position from %d to %d", before, pos)
				}
			}
			read := func(n int, wantN int, wantErr error, from int) {
				t.Helper()
				buf := make([]byte, n)
				got, err := f.Read(buf)
				if got != wantN || err != wantErr {
					t.Fatalf("Read(%d) = %d, %v; want %d, %v", n, got, err, wantN, wantErr)
				}
				if !bytes.Equal(buf[:got], plain[from:from+got]) {
					t.Fatalf("Read(%d) at %d returned wrong bytes", n, from)
				}
			}

			seek(0, io.SeekStart, 0)
			read(64, 64, nil, 0)
			read(64, 36, nil, 64)
			read(64, 0, io.EOF, 100)
			seek(0, io.SeekCurrent, 100)
			read(0, 0, nil, 100)
			seek(-10, io.SeekEnd, 90)
			read(10, 10, nil, 90)
			seek(5, io.SeekStart, 5)
			seek(3, io.SeekCurrent, 8)
			read(1, 1, nil, 8)
			seekErr(-10, io.SeekCurrent)
			seekErr(-101, io.SeekEnd)
			seekErr(-1, io.SeekStart)
			seekErr(0, 3)
			seek(1000, io.SeekEnd, 1100)
			read(5, 0, io.EOF, 100)
			seek(math.MaxInt64, io.SeekStart, math.MaxInt64)
			seekErr(1, io.SeekCurrent)
			seek(math.MinInt64+1, io.SeekCurrent, 0)

			buf := make([]byte, 20)
			n, err := f.ReadAt(buf, 90)
			if n != 10 || err != io.EOF || !bytes.Equal(buf[:10], plain[90:]) {
				t.Fatalf("ReadAt(20, 90) = %d, %v or wrong bytes", n, err)
			}
			if n, err := f.ReadAt(buf, -1); n != 0 || err == nil {
				t.Fatalf("ReadAt at -1 = %d, %v", n, err)
			}
			for op := opWriteAt; op <= opWriteAtInPlace; op += 2 {
				var err error
				if op == opWriteAt {
					_, err = f.WriteAt(buf, -1)
				} else {
					_, err = f.WriteAtInPlace(buf, -1)
				}
				if err == nil {
					t.Fatalf("%v at -1 succeeded", op)
				}
			}

			seek(40, io.SeekStart, 40)
			for _, size := range []int64{50, 0, 5000, 100} {
				if err := f.Truncate(size); err != nil {
					t.Fatal(err)
				}
				fi, err := f.Stat()
				if err != nil || fi.Size() != size {
					t.Fatalf("after Truncate(%d), Stat = %v, %v", size, fi, err)
				}
				if pos := tell(t, f); pos != 40 {
					t.Fatalf("Truncate moved the position to %d", pos)
				}
			}
			if pos, err := f.OSFile().Seek(0, io.SeekCurrent); pos != 7 || err != nil {
				t.Fatalf("OS file offset is %d (%v), want 7", pos, err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.SyncData(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrent runs ReadAt from many goroutines over one File while
// others write disjoint ranges with WriteAt and WriteAtInPlace and Write
// through the shared position; run it under -race.
func TestConcurrent(t *testing.T) {
	const size, workers = 1 << 20, 8
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			k := newKey(t, m)
			f, _ := newTestFile(t, k)
			plain := randomBytes(t, size)
			if n, err := f.WriteAt(plain, 0); n != size || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			extra := randomBytes(t, workers*10000)
			if _, err := f.Seek(2*size, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range workers {
				rng := mrand.New(mrand.NewPCG(uint64(w), 1))
				wg.Go(func() {
					buf := make([]byte, 16<<10)
					for range 200 {
						off := rng.IntN(size)
						// Within the first size bytes: the writers are
						// growing the file beyond them meanwhile.
						p := buf[:min(1+rng.IntN(len(buf)), size-off)]
						n, err := f.ReadAt(p, int64(off))
						if n != len(p) || err != nil {
							t.Errorf("ReadAt(%d, %d) = %d, %v", len(p), off, n, err)
							return
						}
						if !bytes.Equal(p[:n], plain[off:off+n]) {
							t.Errorf("ReadAt(%d, %d) returned wrong bytes", len(p), off)
							return
						}
					}
				})
				wg.Go(func() {
					part := extra[w*10000 : (w+1)*10000]
					at := int64(size + w*10000)
					var err error
					if w%2 == 0 {
						_, err = f.WriteAt(part, at)
					} else {
						_, err = f.WriteAtInPlace(bytes.Clone(part), at)
					}
					if err != nil {
						t.Error(err)
					}
					if _, err := f.Write(part[:100]); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			got := make([]byte, len(extra))
			if _, err := f.ReadAt(got, size); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, extra) {
				t.Fatal("concurrent WriteAt left wrong bytes")
			}
			if pos := tell(t, f); pos != 2*size+workers*100 {
				t.Fatalf("position %d after %d concurrent Writes of 100 bytes", pos, workers)
			}
		})
	}
}

// TestAllocs: after warm-up no read or write call allocates, for a 4 KiB
// buffer at an unaligned offset.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			k := newKey(t, m)
			f, _ := newTestFile(t, k)
			buf := make([]byte, 4<<10)
			if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
				t.Fatal(err)
			}
			calls := []struct {
				name string
				fn   func() (int, error)
			}{
				{"ReadAt", func() (int, error) { return f.ReadAt(buf, 1001) }},
				{"Read", func() (int, error) { return f.Read(buf) }},
				{"WriteAt", func() (int, error) { return f.WriteAt(buf, 5003) }},
				{"Write", func() (int, error) { return f.Write(buf) }},
				{"WriteInPlace", func() (int, error) { return f.WriteInPlace(buf) }},
				{"WriteAtInPlace", func() (int, error) { return f.WriteAtInPlace(buf, 7) }},
			}
			for _, c := range calls {
				if _, err := f.Seek(3, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var err error
				allocs := testing.AllocsPerRun(100, func() {
					if _, e := c.fn(); e != nil && err == nil {
						err = e
					}
				})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if allocs != 0 {
					t.Errorf("%s allocates %v times per call", c.name, allocs)
				}
			}
		})
	}
}

// TestClose: a second Close is an error and every call after Close fails.
func TestClose(t *testing.T) {
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			osf, _ := openTemp(t)
			f := New(osf, newKey(t, m).stream(t))
			if _, err := f.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("second Close = %v, want os.ErrClosed", err)
			}
			buf := []byte("data")
			calls := map[string]func() error{
				"Read":           func() error { _, err := f.Read(buf); return err },
				"ReadAt":         func() error { _, err := f.ReadAt(buf, 0); return err },
				"Write":          func() error { _, err := f.Write(buf); return err },
				"WriteAt":        func() error { _, err := f.WriteAt(buf, 0); return err },
				"WriteInPlace":   func() error { _, err := f.WriteInPlace(buf); return err },
				"WriteAtInPlace": func() error { _, err := f.WriteAtInPlace(buf, 0); return err },
				"SeekStart":      func() error { _, err := f.Seek(0, io.SeekStart); return err },
				"SeekEnd":        func() error { _, err := f.Seek(0, io.SeekEnd); return err },
				"Sync":           f.Sync,
				"SyncData":       f.SyncData,
				"Truncate":       func() error { return f.Truncate(0) },
				"Stat":           func() error { _, err := f.Stat(); return err },
			}
			for name, call := range calls {
				if err := call(); err == nil {
					t.Errorf("%s after Close succeeded", name)
				}
			}
		})
	}
}

// TestWriteError: a write the OS refuses returns its error and moves the
// position by exactly what was written (nothing). /dev/full refuses every
// write with ENOSPC.
func TestWriteError(t *testing.T) {
	for _, m := range ctr.Methods {
		t.Run(m.String(), func(t *testing.T) {
			osf, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skip(err)
			}
			f := New(osf, newKey(t, m).stream(t))
			defer f.Close()
			p := make([]byte, chunkSize+10)
			if _, err := f.Seek(100, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			for op := opWrite; op <= opWriteAtInPlace; op++ {
				var n int
				var err error
				switch op {
				case opWrite:
					n, err = f.Write(p)
				case opWriteAt:
					n, err = f.WriteAt(p, 5)
				case opWriteInPlace:
					n, err = f.WriteInPlace(p)
				case opWriteAtInPlace:
					n, err = f.WriteAtInPlace(p, 5)
				}
				if n != 0 || !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("%v to /dev/full = %d, %v; want 0, ENOSPC", op, n, err)
				}
				if pos := tell(t, f); pos != 100 {
					t.Errorf("failed %v moved the position to %d", op, pos)
				}
			}
		})
	}
}

// TestAppendRefused: *os.File refuses positioned writes on a file opened
// with O_APPEND, so a File over one fails its writes rather than putting
// bytes at offsets the keystream does not match.
func TestAppendRefused(t *testing.T) {
	_, path := openTemp(t)
	osf, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := New(osf, newKey(t, ctr.AES128CTR).stream(t))
	defer f.Close()
	if n, err := f.Write([]byte("x")); n != 0 || err == nil {
		t.Fatalf("Write on an O_APPEND file = %d, %v", n, err)
	}
}

// TestRestoreUnwritten encrypts a buffer in place, as the in-place writes
// do, and hands RestoreUnwritten each count a write may report: the first
// n bytes must stay ciphertext at their offsets and the rest must be the
// plaintext again, whatever the count (none, part, all, out of range).
func TestRestoreUnwritten(t *testing.T) {
	const (
		size = 300 // several blocks
		off  = 37  // not block-aligned, so the rest starts mid-block
	)
	cases := []struct {
		name string
		n    int // count the write reports
		want int // bytes that stay ciphertext
	}{
		{"negative", -1, 0},
		{"none", 0, 0},
		{"one", 1, 1},
		{"mid-block", 45, 45},
		{"block end", 16 - off%16, 16 - off%16},
		{"middle", size / 2, size / 2},
		{"all but one", size - 1, size - 1},
		{"all", size, size},
		{"beyond", size + 5, size},
	}
	for _, m := range ctr.Methods {
		if m == ctr.Plaintext {
			continue // its keystream is zeros: nothing to tell apart
		}
		k := newKey(t, m)
		s := k.stream(t)
		ks := k.keystream(t, off+size)[off:]
		for _, c := range cases {
			t.Run(m.String()+"/"+c.name, func(t *testing.T) {
				orig := randomBytes(t, size)
				p := bytes.Clone(orig)
				s.XORKeyStreamAt(p, p, off)
				RestoreUnwritten(s, p, off, c.n)
				if !bytes.Equal(p[:c.want], xorBytes(orig[:c.want], ks[:c.want])) {
					t.Errorf("the first %d bytes are not the ciphertext", c.want)
				}
				if !bytes.Equal(p[c.want:], orig[c.want:]) {
					t.Errorf("the %d bytes after %d are not the plaintext again", size-c.want, c.want)
				}
			})
		}
		if !raceEnabled {
			p := make([]byte, size)
			if allocs := testing.AllocsPerRun(100, func() { RestoreUnwritten(s, p, off, 7) }); allocs != 0 {
				t.Errorf("%v: RestoreUnwritten allocates %v times per call", m, allocs)
			}
		}
	}
}
