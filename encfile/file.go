// Package encfile is the encrypted file handle of atrest's encryption at
// rest: an *os.File whose bytes on disk are the plaintext XORed with a
// counter-mode keystream (package ctr) taken at the same byte offset.
//
// # Format
//
// Byte o of the file on disk is byte o of the plaintext XORed with byte o of
// the keystream, whose counter block is IV + o/16. Nothing is added: no
// header, no padding, no tag, so a file's size on disk is its plaintext size
// and any range can be read or written without touching its neighbours.
// The key, IV and method live elsewhere (in the file dictionary); a File is
// handed a ready ctr.Stream.
//
// # Position
//
// All I/O is positioned (pread and pwrite, through ReadAt and WriteAt of
// *os.File). Read, Write and Seek use a position kept in the File and
// guarded by a mutex; the operating system's file offset is never read or
// moved. A short read or write advances that position by the count it
// returns, so the keystream offset of the next call is always the file
// offset it lands at. (When the kernel writes part of a pwrite and then
// fails, *os.File.WriteAt reports nothing for that call, so the count can
// be lower than what reached the file, never higher; writing again from
// the position puts the same ciphertext at the same offsets.)
//
// Files opened with os.O_APPEND are not supported: the kernel would put
// appended bytes at an offset the File cannot know. *os.File refuses
// positioned writes on them, so every write fails; callers must not hand
// such files to New.
//
// # Buffers
//
// ReadAt reads into the caller's buffer and decrypts it there: no copy and
// no allocation. Write and WriteAt leave the caller's buffer untouched and
// encrypt through pooled 64 KiB buffers, one pwrite per chunk;
// WriteInPlace and WriteAtInPlace encrypt the caller's buffer itself, for
// engines that hand their buffer over and do not look at it again.
// After warm-up none of the read or write calls allocates.
//
// # Holes
//
// Bytes the file never had written (a hole left by a write past the end or
// by Truncate growing the file) are zero on disk, so they read back through
// a File as keystream, not as zeros (as zeros for plaintext). Storage
// engines never read bytes they did not write; nothing else should either.
//
// # Concurrency
//
// ReadAt, WriteAt and WriteAtInPlace are safe for concurrent use, as they
// are on *os.File. Read, Write, WriteInPlace and Seek serialize on the
// File's position. A Stream is stateless for XORKeyStreamAt and is shared.
package encfile

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
)

// chunkSize is the size of the pooled buffers Write and WriteAt encrypt
// through: large enough that a pwrite costs little per byte, small enough
// to stay below ctr's parallel threshold and in the cache.
const chunkSize = 64 << 10

// chunkPool holds *[chunkSize]byte. Pointers to arrays go in and out of a
// sync.Pool without allocating.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

var (
	errNegativeOffset = errors.New("negative offset")
	errInvalidWhence  = errors.New("invalid whence")
	errOffsetOverflow = errors.New("offset out of range")
)

// Base is the file a File encrypts: an *os.File, or a file of the
// Manager's file system (fsys.File). Truncate, Fd, Name and fdatasync are
// used where the base has them (see the File's methods).
type Base interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Stat() (fs.FileInfo, error)
	Sync() error
}

// File is an encrypted view of a Base file, usually an *os.File. A nil
// stream (or a Plaintext stream) means the file is stored as it is, and
// every call goes straight to the base.
//
// Errors from the operating system are returned as *os.File returns them
// (an *os.PathError, or io.EOF unwrapped); errors of the File's own are
// *os.PathError values wrapping the cause.
type File struct {
	f      Base
	s      *ctr.Stream // nil: plaintext
	closed atomic.Bool

	mu  sync.Mutex // guards pos
	pos int64
}

// New returns an encrypted view of f with keystream s, positioned at offset
// 0 whatever f's own offset is. The File takes ownership of f: close the
// File, not f. A nil s, or a Stream of the Plaintext method, stores the
// file as it is. f must not have been opened with os.O_APPEND.
func New(f Base, s *ctr.Stream) *File {
	if s != nil && s.Method() == ctr.Plaintext {
		s = nil
	}
	return &File{f: f, s: s}
}

// Read reads up to len(p) bytes at the File's position into p, decrypts
// them in place and advances the position by the number read. At end of
// file it returns 0, io.EOF, as *os.File does; a read that stops short at
// end of file returns what it read and a nil error.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes at offset off into p and decrypts them in
// place: there is no copy and no allocation. Like *os.File's ReadAt it
// returns a non-nil error (io.EOF at end of file) when it reads fewer than
// len(p) bytes; the bytes it did read are decrypted. It does not use or move
// the File's position.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	if f.s != nil && n > 0 {
		f.s.XORKeyStreamAt(p[:n], p[:n], uint64(off))
	}
	return n, err
}

// Write encrypts p and writes it at the File's position, advancing the
// position by the number of bytes written. p is not modified: the
// ciphertext goes through pooled 64 KiB buffers, one pwrite each. A short
// write stops there and returns the count of bytes written, a whole number
// of chunks plus what *os.File reports for the last one, with the operating
// system's error or io.ErrShortWrite.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.WriteAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

// WriteAt encrypts p and writes it at offset off, as Write does but without
// using or moving the File's position. p is not modified. Writing past the
// end of the file leaves a hole, which reads back as keystream (see the
// package documentation).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if f.s == nil {
		return f.f.WriteAt(p, off)
	}
	if off < 0 {
		return 0, f.pathError("writeat", errNegativeOffset)
	}
	return WriteEncryptedAt(f.f, f.s, p, off)
}

// WriteEncryptedAt encrypts p with s at offset off and writes it to w at
// off, through pooled 64 KiB buffers (one WriteAt each), leaving p
// untouched: the write path of File.WriteAt, for adapters whose files are
// not *os.File. A short write stops there and returns the count of bytes
// written, with w's error or io.ErrShortWrite. off must not be negative.
func WriteEncryptedAt(w io.WriterAt, s *ctr.Stream, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf := chunkPool.Get().(*[chunkSize]byte)
	defer chunkPool.Put(buf)
	written := 0
	for written < len(p) {
		c := min(len(p)-written, chunkSize)
		at := off + int64(written)
		s.XORKeyStreamAt(buf[:c], p[written:written+c], uint64(at))
		n, err := w.WriteAt(buf[:c], at)
		written += n
		if err != nil {
			return written, err
		}
		if n < c {
			return written, io.ErrShortWrite
		}
	}
	return written, nil
}

// WriteInPlace encrypts p in place and writes it at the File's position,
// advancing the position by the number of bytes written. Afterwards the
// written part of p holds the ciphertext; after a short write the rest is
// plaintext again, so writing it again encrypts it properly. It is for
// engines that hand their buffer over (as Pebble does) and saves the copy
// Write makes.
func (f *File) WriteInPlace(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.WriteAtInPlace(p, f.pos)
	f.pos += int64(n)
	return n, err
}

// WriteAtInPlace encrypts p in place and writes it at offset off without
// using or moving the File's position. Afterwards p holds the ciphertext
// of what was written, and the plaintext of what was not.
func (f *File) WriteAtInPlace(p []byte, off int64) (int, error) {
	if f.s == nil {
		return f.f.WriteAt(p, off)
	}
	if off < 0 {
		return 0, f.pathError("writeat", errNegativeOffset)
	}
	f.s.XORKeyStreamAt(p, p, uint64(off))
	n, err := f.f.WriteAt(p, off)
	RestoreUnwritten(f.s, p, off, n)
	if n < len(p) && err == nil {
		err = io.ErrShortWrite
	}
	return n, err
}

// RestoreUnwritten undoes an in-place encryption for the part of p a write
// did not take: p was encrypted with s at offset off and handed to a write
// that reported n bytes written, and RestoreUnwritten decrypts p[n:] back
// to plaintext, leaving p[:n] as ciphertext. A negative n counts as 0, and
// n >= len(p) leaves p alone. off must not be negative.
//
// It is the second half of every in-place write (File.WriteAtInPlace and
// adapters such as pebblefs): a caller may write the unwritten rest again
// after a short write (Pebble's disk-full handler does), and encrypting
// ciphertext a second time would put plaintext on disk. It only XORs in
// place, so it does not allocate.
func RestoreUnwritten(s *ctr.Stream, p []byte, off int64, n int) {
	n = max(n, 0)
	if n >= len(p) {
		return
	}
	rest := p[n:]
	s.XORKeyStreamAt(rest, rest, uint64(off)+uint64(n))
}

// Seek sets the File's position for the next Read or Write to offset,
// relative to the start of the file (io.SeekStart), the current position
// (io.SeekCurrent) or the end of the file (io.SeekEnd), and returns the new
// position. A position before the start of the file is an error and leaves
// the position as it was; one past the end is allowed. The operating
// system's file offset is not moved.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if f.closed.Load() {
		return 0, f.pathError("seek", os.ErrClosed)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.pos
	case io.SeekEnd:
		fi, err := f.f.Stat()
		if err != nil {
			return f.pos, err
		}
		base = fi.Size()
	default:
		return f.pos, f.pathError("seek", errInvalidWhence)
	}
	if (offset > 0 && base > math.MaxInt64-offset) || (offset < 0 && base < math.MinInt64-offset) {
		return f.pos, f.pathError("seek", errOffsetOverflow)
	}
	pos := base + offset
	if pos < 0 {
		return f.pos, f.pathError("seek", errNegativeOffset)
	}
	f.pos = pos
	return pos, nil
}

// Sync commits the file's contents and metadata to stable storage (the
// base's Sync).
func (f *File) Sync() error { return f.f.Sync() }

// SyncData commits the file's contents, and only the metadata needed to
// read them back, to stable storage: fdatasync on Linux (the base's
// Datasync for a base that is not an *os.File but has one), Sync
// elsewhere.
func (f *File) SyncData() error {
	if osf := f.OSFile(); osf != nil {
		return f.syncData(osf)
	}
	if d, ok := f.f.(interface{ Datasync() error }); ok {
		return d.Datasync()
	}
	return f.f.Sync()
}

// Truncate changes the size of the file. It does not move the File's
// position. Growing the file leaves a hole, which reads back as keystream.
// A base without Truncate fails with errors.ErrUnsupported.
func (f *File) Truncate(size int64) error {
	t, ok := f.f.(interface{ Truncate(int64) error })
	if !ok {
		return f.pathError("truncate", errors.ErrUnsupported)
	}
	return t.Truncate(size)
}

// Stat returns the FileInfo of the underlying file. Its size is the
// plaintext size: counter mode adds no bytes.
func (f *File) Stat() (os.FileInfo, error) { return f.f.Stat() }

// Close closes the underlying file. A second Close returns an error, as
// *os.File's does; so does every other call after Close.
func (f *File) Close() error {
	f.closed.Store(true)
	return f.f.Close()
}

// Fd returns the underlying file's descriptor (*os.File's Fd), for
// readahead and preallocation hints, or ^uintptr(0) when the base has
// none. Bytes written through it bypass the encryption.
func (f *File) Fd() uintptr {
	if d, ok := f.f.(interface{ Fd() uintptr }); ok {
		return d.Fd()
	}
	return ^uintptr(0)
}

// Name returns the name the underlying file was opened with, or "" when
// the base does not tell.
func (f *File) Name() string {
	if n, ok := f.f.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}

// OSFile returns the underlying *os.File, for adapters that need it
// (prefetch, preallocation, locking), or nil when the base is not one (nor
// an fsys.OSFile). Reading or writing through it bypasses the encryption,
// and it must not be closed apart from the File.
func (f *File) OSFile() *os.File {
	switch b := f.f.(type) {
	case *os.File:
		return b
	case fsys.OSFile:
		return b.File
	}
	return nil
}

// Stream returns the File's keystream, or nil when the file is stored as
// plaintext (also when New was given a Plaintext stream).
func (f *File) Stream() *ctr.Stream { return f.s }

func (f *File) pathError(op string, err error) error {
	return &os.PathError{Op: op, Path: f.Name(), Err: err}
}
