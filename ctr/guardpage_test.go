//go:build unix

package ctr

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// Buffers that end right before an inaccessible page: a kernel that reads
// or writes even one byte past the end (a wide tail, a masked access)
// crashes the test. Storage engines read into page-aligned buffers, so
// this is their common case, not an edge.
func TestBuffersEndingAtAGuardPage(t *testing.T) {
	page := unix.Getpagesize()
	// Pages: src, guard, dst, guard.
	mem, err := unix.Mmap(-1, 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer unix.Munmap(mem)
	for _, guard := range []int{1, 3} {
		if err := unix.Mprotect(mem[guard*page:(guard+1)*page], unix.PROT_NONE); err != nil {
			t.Fatal(err)
		}
	}
	srcEnd, dstEnd := mem[:page], mem[2*page:3*page]
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, 400))
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			for n := 0; n <= 300; n++ {
				for _, off := range []int{0, 1, 15, 16, 63, 64} {
					src, dst := srcEnd[page-n:], dstEnd[page-n:]
					for i := range src {
						src[i] = byte(i * 7)
					}
					want := xorBytes(src, ks[off:off+n])
					s.XORKeyStreamAt(dst, src, uint64(off))
					if !bytes.Equal(dst, want) {
						t.Fatalf("length %d offset %d: out of place mismatch", n, off)
					}
					copy(dst, src)
					s.XORKeyStreamAt(dst, dst, uint64(off))
					if !bytes.Equal(dst, want) {
						t.Fatalf("length %d offset %d: in place mismatch", n, off)
					}
				}
			}
		})
	}
}
