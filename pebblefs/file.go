package pebblefs

import (
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/enginefs"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// file is an encrypted vfs.File: byte o on disk is byte o of the content
// XORed with the keystream at offset o. Plaintext files are not wrapped at
// all: Open and friends return the base file itself. Every call but the
// four that move bytes is the base file's: Close, Stat, the syncs
// (SyncTo is sync_file_range, SyncData fdatasync on Linux), the readahead
// hint Prefetch, Preallocate (the range is zeros on disk, which reads back
// as keystream, never as anything written) and Fd (for Pebble's readahead
// and preallocation; bytes written through it bypass the encryption).
type file struct {
	vfs.File
	c enginefs.Cipher
}

var _ vfs.File = (*file)(nil)

// wrap returns an encrypted view of base, or base itself when the file is
// stored as plaintext.
func wrap(base vfs.File, s *ctr.Stream) vfs.File {
	if !enginefs.Encrypts(s) {
		return base
	}
	return &file{File: base, c: enginefs.NewCipher(s)}
}

// Read reads from the base file and decrypts in p.
func (f *file) Read(p []byte) (int, error) { return f.c.Read(f.File, p) }

// ReadAt reads from the base file at off and decrypts in p: no copy.
func (f *file) ReadAt(p []byte, off int64) (int, error) { return f.c.ReadAt(f.File, p, off) }

// Write encrypts p in place (vfs.File allows Write to modify its buffer)
// and writes it to the base file; after a short write the unwritten rest
// is decrypted back, for a caller that writes it again.
func (f *file) Write(p []byte) (int, error) { return f.c.WriteInPlace(f.File, p) }

// WriteAt encrypts p at off through pooled buffers, leaving p untouched
// (io.WriterAt does not let it change the buffer), and writes it to the
// base file at off.
func (f *file) WriteAt(p []byte, off int64) (int, error) { return f.c.WriteAt(f.File, p, off) }
