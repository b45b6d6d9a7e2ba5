package pebblefs

import (
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/encfile"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// file is an encrypted vfs.File: byte o on disk is byte o of the content
// XORed with the keystream at offset o. Plaintext files are not wrapped at
// all: Open and friends return the base file itself.
type file struct {
	base vfs.File
	s    *ctr.Stream
	// pos is the offset of the next Read or Write, which go through the
	// base file's own offset: both start at 0 and move by the same counts.
	// Like the base file's offset it is not for concurrent Read or Write
	// calls (vfs.File forbids concurrent writes; Pebble reads a file
	// sequentially from one goroutine).
	pos int64
}

var _ vfs.File = (*file)(nil)

// Close closes the base file.
func (f *file) Close() error { return f.base.Close() }

// Read reads from the base file and decrypts in p.
func (f *file) Read(p []byte) (int, error) {
	n, err := f.base.Read(p)
	if n > 0 {
		f.s.XORKeyStreamAt(p[:n], p[:n], uint64(f.pos))
		f.pos += int64(n)
	}
	return n, err
}

// ReadAt reads from the base file at off and decrypts in p: no copy.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.base.ReadAt(p, off)
	if n > 0 && off >= 0 {
		f.s.XORKeyStreamAt(p[:n], p[:n], uint64(off))
	}
	return n, err
}

// Write encrypts p in place (vfs.File allows Write to modify its buffer)
// and writes it to the base file. After a short write the unwritten rest
// of p is decrypted back: a caller may write it again (Pebble's disk-full
// handler does), and encrypting ciphertext would put plaintext on disk.
func (f *file) Write(p []byte) (int, error) {
	f.s.XORKeyStreamAt(p, p, uint64(f.pos))
	n, err := f.base.Write(p)
	encfile.RestoreUnwritten(f.s, p, f.pos, n)
	f.pos += int64(n)
	return n, err
}

// WriteAt encrypts p at off through pooled buffers, leaving p untouched
// (io.WriterAt does not let it change the buffer), and writes it to the
// base file at off.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return f.base.WriteAt(p, off) // the base file reports the bad offset
	}
	return encfile.WriteEncryptedAt(f.base, f.s, p, off)
}

// Preallocate is the base file's: the preallocated range is zeros on disk,
// which reads back as keystream, never as anything written.
func (f *file) Preallocate(offset, length int64) error {
	return f.base.Preallocate(offset, length)
}

// Stat is the base file's: the size is the content's size.
func (f *file) Stat() (vfs.FileInfo, error) { return f.base.Stat() }

// Sync is the base file's.
func (f *file) Sync() error { return f.base.Sync() }

// SyncTo is the base file's (sync_file_range on Linux).
func (f *file) SyncTo(length int64) (bool, error) { return f.base.SyncTo(length) }

// SyncData is the base file's (fdatasync on Linux).
func (f *file) SyncData() error { return f.base.SyncData() }

// Prefetch is the base file's readahead hint.
func (f *file) Prefetch(offset, length int64) error { return f.base.Prefetch(offset, length) }

// Fd is the base file's descriptor, for Pebble's readahead and
// preallocation; bytes written through it bypass the encryption.
func (f *file) Fd() uintptr { return f.base.Fd() }
