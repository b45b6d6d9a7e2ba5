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

// Buffers that start right after an inaccessible page, at every offset
// inside a block and at lengths from just under to well over the
// kilobyte from which an SM4 call that starts inside a block runs as one
// kernel call on the block grid: that call must not touch the bytes before
// dst and src that its grid begins with.
func TestBuffersStartingAfterAGuardPage(t *testing.T) {
	page := unix.Getpagesize()
	// Pages: guard, src, src, guard, dst, dst.
	mem, err := unix.Mmap(-1, 0, 6*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer unix.Munmap(mem)
	for _, guard := range []int{0, 3} {
		if err := unix.Mprotect(mem[guard*page:(guard+1)*page], unix.PROT_NONE); err != nil {
			t.Fatal(err)
		}
	}
	srcStart, dstStart := mem[page:3*page], mem[4*page:6*page]
	lengths := []int{1, 300, 1000, 1008, 1009, 1023, 1024, 1025, 1100, 2048, 4096, 4101, 2 * page}
	for _, m := range cipherMethods {
		key, iv := randomBytes(t, m.KeySize()), randomBytes(t, IVSize)
		ks := referenceXOR(t, m, key, iv, 0, make([]byte, 2*page+32))
		forEachKernel(t, m, func(t *testing.T, kernel string) {
			s := newWithKernel(t, m, kernel, key, iv)
			for _, n := range lengths {
				for off := 0; off <= 17; off++ {
					src, dst := srcStart[:n], dstStart[:n]
					for i := range src {
						src[i] = byte(i * 13)
					}
					want := xorBytes(src, ks[off:off+n])
					s.XORKeyStreamAt(dst, src, uint64(off))
					if !bytes.Equal(dst, want) {
						t.Fatalf("length %d offset %d: out of place mismatch at byte %d", n, off, firstDiff(dst, want))
					}
					copy(dst, src)
					s.XORKeyStreamAt(dst, dst, uint64(off))
					if !bytes.Equal(dst, want) {
						t.Fatalf("length %d offset %d: in place mismatch at byte %d", n, off, firstDiff(dst, want))
					}
				}
			}
		})
	}
}
