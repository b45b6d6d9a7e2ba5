package encfile

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/atrest/atrest/ctr"
	"golang.org/x/sys/unix"
)

// TestShortWrite makes the kernel write part of a buffer, with a file size
// limit (RLIMIT_FSIZE) in the middle of the second chunk: the count must
// not exceed what reached the file, the position must move by the count,
// and the bytes that did reach the file must decrypt. Go ignores SIGXFSZ, so going
// over the limit is an EFBIG error. The test does not run in parallel and
// restores the limit before it returns.
func TestShortWrite(t *testing.T) {
	const limit = chunkSize + 1000
	for _, m := range ctr.Methods {
		for op := opWrite; op <= opWriteAtInPlace; op++ {
			t.Run(m.String()+"/"+op.String(), func(t *testing.T) {
				k := newKey(t, m)
				f, _ := newTestFile(t, k)
				const off = 10
				p := randomBytes(t, 3*chunkSize)
				orig := bytes.Clone(p)
				if _, err := f.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}

				var old unix.Rlimit
				if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
					t.Fatal(err)
				}
				lim := unix.Rlimit{Cur: limit, Max: old.Max}
				if old.Max < limit {
					t.Skipf("hard file size limit %d", old.Max)
				}
				if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
					t.Skip(err)
				}
				var n int
				var err error
				switch op {
				case opWrite:
					n, err = f.Write(p)
				case opWriteAt:
					n, err = f.WriteAt(p, off)
				case opWriteInPlace:
					n, err = f.WriteInPlace(p)
				case opWriteAtInPlace:
					n, err = f.WriteAtInPlace(p, off)
				}
				if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
					t.Fatal(err)
				}

				// The kernel writes up to the limit and refuses the rest,
				// but *os.File.WriteAt drops the count of a call that
				// wrote part and then failed: the count may be less than
				// what reached the file (a whole number of chunks, or 0
				// for a single pwrite), never more.
				chunked := m != ctr.Plaintext && !op.inPlace()
				okN := n == limit-off || (chunked && n == chunkSize) || (!chunked && n == 0)
				if !okN || !errors.Is(err, unix.EFBIG) {
					t.Fatalf("%v of %d bytes at %d under a %d-byte limit = %d, %v; want %d (or what *os.File reports), EFBIG",
						op, len(p), off, limit, n, err, limit-off)
				}
				wantPos := int64(off)
				if !op.positional() {
					wantPos += int64(n)
				}
				if pos := tell(t, f); pos != wantPos {
					t.Fatalf("position %d after the short %v, want %d", pos, op, wantPos)
				}
				// Everything that reached the file, reported or not, is
				// the right ciphertext: writing again from the position
				// puts the same bytes in the same place.
				got := make([]byte, limit-off)
				if _, err := f.ReadAt(got, off); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, orig[:limit-off]) {
					t.Fatal("the bytes written before the limit do not decrypt")
				}
				// What was not written is the caller's plaintext again (in
				// place) or untouched (through a copy): a retry of the rest
				// must not encrypt ciphertext back into plaintext.
				if !bytes.Equal(p[n:], orig[n:]) {
					t.Fatalf("after the short %v the unwritten rest of the buffer is not the plaintext", op)
				}
				if fi, err := f.Stat(); err != nil || fi.Size() != limit {
					t.Fatalf("Stat = %v, %v; want size %d", fi, err, limit)
				}
			})
		}
	}
}
