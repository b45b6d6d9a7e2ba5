package ctr

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

const (
	aesMaxRounds        = 14
	aesMaxRoundKeyBytes = 16 * (aesMaxRounds + 1)
)

// ErrKeySize is returned (wrapped) by New for a key whose length does not
// match the method's KeySize.
var ErrKeySize = errors.New("wrong key length")

// ErrIVSize is returned (wrapped) by New for an IV that is not IVSize bytes.
var ErrIVSize = errors.New("wrong IV length")

// Stream is a seekable counter-mode keystream for one key and IV.
//
// The counter block for byte offset o is IV + o/16, the IV read as a
// 128-bit big-endian integer and the sum taken mod 2^128: the stream
// crypto/cipher.NewCTR, OpenSSL and TiKV produce for the same key and IV.
//
// XORKeyStreamAt keeps no state and is safe for concurrent use. XORKeyStream
// advances a position kept in the Stream and must not be called
// concurrently with itself or Seek.
type Stream struct {
	// rk holds the expanded key in the layout the stream's kernel reads.
	rk     [aesMaxRoundKeyBytes]byte
	rounds int
	ivHi   uint64
	ivLo   uint64
	pos    uint64
	method Method
	kern   kernelID

	// ahead is keystream XORKeyStream computed past its position for short
	// calls: aheadLen bytes from stream offset aheadAt (aheadLen 0: none).
	// It is as secret as the round keys the Stream already holds.
	ahead    [aheadSize]byte
	aheadAt  uint64
	aheadLen int
}

// aheadSize is how much keystream XORKeyStream computes at once for calls
// shorter than that: one set of 16 blocks of the SM4 kernels, whose 32
// rounds take as long for one block as for sixteen (about 130 ns here).
// A reused crypto/cipher or gmsm stream buffers ahead the same way.
const aheadSize = 256

// New returns a Stream for method m with the given key and IV. The key must
// be m.KeySize() bytes and the IV IVSize bytes; for Plaintext the key must be
// empty and the IV may be empty or IVSize bytes (it is ignored).
//
// The kernel is the one KernelName(m) reports at the time of the call; the
// Stream keeps it for its whole life. The key is copied (expanded) into the
// Stream, so the caller may clear its own copy as soon as New returns.
func New(m Method, key, iv []byte) (*Stream, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("ctr: %w: %v (valid: %s)", ErrUnknownMethod, m, validMethodNames())
	}
	if len(key) != m.KeySize() {
		return nil, fmt.Errorf("ctr: %v needs a %d-byte key, got %d bytes: %w", m, m.KeySize(), len(key), ErrKeySize)
	}
	if len(iv) != IVSize && !(m == Plaintext && len(iv) == 0) {
		return nil, fmt.Errorf("ctr: %v needs a %d-byte IV, got %d bytes: %w", m, IVSize, len(iv), ErrIVSize)
	}
	s := &Stream{method: m, kern: selectedKernel(m)}
	if len(iv) == IVSize {
		s.ivHi = binary.BigEndian.Uint64(iv[0:])
		s.ivLo = binary.BigEndian.Uint64(iv[8:])
	}
	switch m {
	case AES128CTR, AES192CTR, AES256CTR:
		expandAESKey(key, &s.rk)
		s.rounds = aesRounds(len(key))
	case SM4CTR:
		expandSM4KeyFor(key, &s.rk)
	}
	return s, nil
}

// Method returns the method the Stream encrypts with.
func (s *Stream) Method() Method { return s.method }

// Kernel returns the name of the kernel the Stream runs on.
func (s *Stream) Kernel() string { return kernelTable[s.kern].name }

// XORKeyStreamAt XORs src with the keystream starting at byte offset
// offset and writes the result to dst. Any offset is allowed; the stream is
// the same however a range is split across calls. dst and src may be the
// same slice, but must not overlap otherwise. It panics, as crypto/cipher
// does, if dst is shorter than src or the two overlap inexactly.
//
// It allocates nothing and is safe for concurrent use. Buffers of at least
// ParallelThreshold bytes are split across cores (see SetParallelThreshold);
// because their halves are handed to worker goroutines, the compiler treats
// dst and src as escaping, so pass heap buffers (as storage engines do)
// rather than arrays on the stack.
func (s *Stream) XORKeyStreamAt(dst, src []byte, offset uint64) {
	if len(dst) < len(src) {
		panic("ctr: output smaller than input")
	}
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	if inexactOverlap(dst, src) {
		panic("ctr: invalid buffer overlap")
	}
	// The parallel path hands out byte offsets, which must not wrap.
	if len(src) >= parallelMin() && offset <= math.MaxUint64-uint64(len(src)) {
		s.xorParallel(dst, src, offset)
		return
	}
	s.xorSerial(dst, src, offset)
}

// XORKeyStream XORs src with the keystream at the Stream's position, writes
// the result to dst and advances the position by len(src). It implements
// crypto/cipher.Stream; a new Stream starts at position 0.
//
// Calls shorter than 256 bytes take their keystream from a buffer the
// Stream fills 256 bytes at a time, so a run of small calls pays the
// kernel's latency once a buffer rather than once a call.
func (s *Stream) XORKeyStream(dst, src []byte) {
	if len(src) >= aheadSize || s.kern == kernCopy {
		s.XORKeyStreamAt(dst, src, s.pos)
		s.pos += uint64(len(src))
		return
	}
	if len(dst) < len(src) {
		panic("ctr: output smaller than input")
	}
	dst = dst[:len(src)]
	if inexactOverlap(dst, src) {
		panic("ctr: invalid buffer overlap")
	}
	for len(src) > 0 {
		// A position before the buffer wraps i past aheadLen too.
		i := s.pos - s.aheadAt
		if i >= uint64(s.aheadLen) {
			if !s.fillAhead() {
				s.XORKeyStreamAt(dst, src, s.pos)
				s.pos += uint64(len(src))
				return
			}
			i = s.pos - s.aheadAt
		}
		n := subtle.XORBytes(dst, src, s.ahead[i:s.aheadLen])
		dst, src = dst[n:], src[n:]
		s.pos += uint64(n)
	}
}

// fillAhead computes the keystream buffer from the block holding the
// position on. It reports false at the very end of the 2^64-byte stream,
// where the buffer would run past the offsets XORKeyStream's position can
// take.
func (s *Stream) fillAhead() bool {
	at := s.pos &^ 15
	if at > math.MaxUint64-aheadSize {
		s.aheadLen = 0
		return false
	}
	clear(s.ahead[:])
	s.xorSerial(s.ahead[:], s.ahead[:], at)
	s.aheadAt, s.aheadLen = at, aheadSize
	return true
}

// Seek sets the position XORKeyStream continues from to offset.
func (s *Stream) Seek(offset uint64) { s.pos = offset }

// xorSerial is XORKeyStreamAt on the calling goroutine alone. dst is
// exactly as long as src, which is not empty.
func (s *Stream) xorSerial(dst, src []byte, offset uint64) {
	if s.kern == kernCopy {
		if unsafe.SliceData(dst) != unsafe.SliceData(src) {
			copy(dst, src)
		}
		return
	}
	hi, lo := addCounter(s.ivHi, s.ivLo, offset/16)
	if skip := int(offset % 16); skip != 0 {
		if s.method == SM4CTR && skip+len(src) <= shortUnaligned && s.counterRoom(lo) >= uint64(skip+len(src)+15)/16 {
			s.xorShortUnaligned(dst, src, skip, hi, lo)
			return
		}
		if s.counterRoom(lo) >= uint64(skip+len(src)+15)/16 && xorBlocksSkipping(s, dst, src, hi, lo, skip) {
			return
		}
		// The first block is partial: run the kernel on one block in a
		// stack buffer and take the bytes from skip on.
		var blk [16]byte
		n := copy(blk[skip:], src)
		xorBlocks(s, blk[:], blk[:], hi, lo)
		copy(dst, blk[skip:skip+n])
		clear(blk[:])
		dst, src = dst[n:], src[n:]
		hi, lo = addCounter(hi, lo, 1)
	}
	for len(src) > 0 {
		n := len(src)
		// Kernels carry the counter only so far (see counterRoom), so a
		// range whose counters would carry further is split there.
		if room := s.counterRoom(lo); room < uint64(n+15)/16 {
			n = int(room) * 16
		}
		xorBlocks(s, dst[:n], src[:n], hi, lo)
		dst, src = dst[n:], src[n:]
		hi, lo = addCounter(hi, lo, uint64(n)/16)
	}
}

// shortUnaligned is the longest run (counting the skipped head of its
// first block) that xorShortUnaligned handles. Zeroing and copying the
// stack buffer cost about as much as the saved call at 2 KiB; at 1 KiB the
// saving is still half a call.
const shortUnaligned = 1<<10 + 16

// xorShortUnaligned runs an SM4 call that starts inside a block as one
// kernel call on a stack copy, with the first block's skipped head in
// front. SM4's kernels pay their 32 rounds' latency once a call (about
// 130 ns here), so the partial first block as a call of its own would
// nearly double a short read's cost.
// Kept out of xorSerial so that its frame stays small.
//
//go:noinline
func (s *Stream) xorShortUnaligned(dst, src []byte, skip int, hi, lo uint64) {
	var buf [shortUnaligned]byte
	n := skip + len(src)
	copy(buf[skip:n], src)
	xorBlocks(s, buf[:n], buf[:n], hi, lo)
	copy(dst, buf[skip:n])
	clear(buf[:skip]) // pure keystream: the head was zeros
}

// counterRoom returns how many blocks from counter low half lo a kernel
// can run before its counter would carry too far, or MaxUint64 for "more
// than any slice". The AES kernels add to the low 64 bits of the counter;
// the SM4 kernels keep three of its four 32-bit words fixed and add to the
// last.
func (s *Stream) counterRoom(lo uint64) uint64 {
	if s.method == SM4CTR {
		return 1<<32 - lo&(1<<32-1)
	}
	if lo == 0 {
		return math.MaxUint64
	}
	return -lo
}

// addCounter returns (hi, lo) + n as a 128-bit sum mod 2^128.
func addCounter(hi, lo, n uint64) (uint64, uint64) {
	sum := lo + n
	if sum < lo {
		hi++
	}
	return hi, sum
}

// inexactOverlap reports whether x and y share memory without starting at
// the same address, which the kernels cannot handle because they read a
// batch of blocks before they write it.
func inexactOverlap(x, y []byte) bool {
	xs, ys := uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	if xs == ys {
		return false
	}
	return xs < ys+uintptr(len(y)) && ys < xs+uintptr(len(x))
}

// xorBlocksGeneric runs the portable kernel of the Stream's cipher
// (Plaintext never gets here: xorSerial copies it).
func xorBlocksGeneric(s *Stream, dst, src []byte, hi, lo uint64) {
	if s.method == SM4CTR {
		xorSM4Generic(&s.rk, dst, src, hi, lo)
		return
	}
	xorAESGeneric(&s.rk, s.rounds, dst, src, hi, lo)
}
