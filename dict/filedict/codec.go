package filedict

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/atrest/atrest/ctr"
)

// Sizes and limits of the format (docs/FORMAT.md).
const (
	magic             = "ATFD"
	maxVersion        = 3        // the newest version this build reads and writes
	logVersion        = 3        // the log format the writer writes
	headerSize        = 8        // magic, version, 3 reserved bytes
	snapshotFrameSize = 12       // body length (8) and CRC32C (4)
	recordHeaderSize  = 9        // CRC32C (4), payload length (4), type (1)
	maxRecordPayload  = 64 << 10 // cap on a record's payload length
	maxGroupPayload   = 16 << 20 // cap on a group frame's payload length
	maxNameLen        = 4096     // longest path, in bytes
	entrySize         = 25       // key id (8), method (1), IV (16)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors; every error this package returns that stems from one of
// these wraps it, so test with errors.Is. Bad arguments (an invalid name or
// method) wrap fs.ErrInvalid, a second BeginRename for the same destination
// wraps fs.ErrExist, and resolving a rename that is not pending wraps
// fs.ErrNotExist.
var (
	// ErrUnknownVersion means a file dictionary (or Options.Version) has a
	// format version this build does not know; the message reads
	// "unknown version N".
	ErrUnknownVersion = errors.New("unknown version")

	// ErrCorrupt means a file dictionary fails a checksum or a structural
	// check in a way a torn write at the end of the file cannot explain: a
	// bad header or snapshot, a damaged log group (version 3) or record
	// (version 2) with a valid one after it, or a valid group holding a
	// record that does not decode or apply. The message gives the offset.
	ErrCorrupt = errors.New("file dictionary is corrupt")

	// ErrBroken means a write failed and the rewrite that should have
	// repaired the file failed as well. The Dict refuses every mutation
	// from then on; reopen it (Open recovers the file).
	ErrBroken = errors.New("file dictionary is broken by a failed write; reopen it")

	// ErrClosed means the Dict has been closed.
	ErrClosed = errors.New("file dictionary is closed")
)

// Entry is what the dictionary records for one file.
type Entry struct {
	// KeyID is the id of the data key in the key dictionary.
	KeyID uint64
	// Method is the cipher the file is encrypted with.
	Method ctr.Method
	// IV is the initialization vector: the counter block of the file's
	// first 16 bytes.
	IV [16]byte
}

// Rename is a pending rename: recorded durably before a file-system rename
// and resolved after it, or after a crash by whoever finds it in
// PendingRenames.
type Rename struct {
	// Src and Dst are the old and new paths.
	Src, Dst string
	// Fresh is nil when Dst takes over Src's entry (or has no entry when
	// Src has none). When non-nil, Dst gets this entry instead: a file
	// reused for writing, which needs a fresh IV.
	Fresh *Entry
}

// Header is the fixed start of a dictionary file.
type Header struct {
	// Version is the format version: 1 (a snapshot only), 2 (a snapshot
	// and a log of records, read but no longer written) or 3 (a snapshot
	// and a log of group frames).
	Version int
}

// DecodeHeader decodes the header at the start of b and returns it with
// the number of bytes it takes. A version other than 1, 2 or 3 is an
// error wrapping ErrUnknownVersion ("unknown version N"), and the returned
// Header still carries N; anything else wrong is ErrCorrupt.
func DecodeHeader(b []byte) (Header, int, error) {
	h, n, err := decodeHeader(b, maxVersion)
	if err != nil {
		return h, 0, fmt.Errorf("filedict: header: %w", err)
	}
	return h, n, nil
}

// decodeHeader is DecodeHeader for a reader that knows the versions
// 1..maxVer, so tests can play an older reader.
func decodeHeader(b []byte, maxVer int) (Header, int, error) {
	if len(b) < headerSize {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, a header needs %d", ErrCorrupt, len(b), headerSize)
	}
	if string(b[:4]) != magic {
		return Header{}, 0, fmt.Errorf("%w: magic %q is not %q", ErrCorrupt, b[:4], magic)
	}
	h := Header{Version: int(b[4])}
	if h.Version < 1 || h.Version > maxVer {
		return h, 0, fmt.Errorf("%w %d", ErrUnknownVersion, h.Version)
	}
	if b[5]|b[6]|b[7] != 0 {
		return h, 0, fmt.Errorf("%w: reserved header bytes are not zero", ErrCorrupt)
	}
	return h, headerSize, nil
}

// Encode returns the 8-byte header.
func (h Header) Encode() []byte {
	return []byte{magic[0], magic[1], magic[2], magic[3], byte(h.Version), 0, 0, 0}
}

// Snapshot is the snapshot section of a dictionary file: every entry and
// every pending rename.
type Snapshot struct {
	// Entries maps a path to its entry.
	Entries map[string]Entry
	// Pending lists the renames not yet resolved, at most one per Dst.
	Pending []Rename
}

// DecodeSnapshot decodes a snapshot section: its length and checksum
// framing and the body. b must hold exactly one section (its length is the
// first 8 bytes, big-endian, plus 12). Input Encode would not produce
// (entries or renames out of order, duplicates, trailing bytes) is
// ErrCorrupt, so re-encoding a decoded snapshot reproduces b.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	entries, pending, n, err := decodeSnapshotSection(b)
	if err != nil {
		return nil, fmt.Errorf("filedict: snapshot: %w", err)
	}
	if n != len(b) {
		return nil, fmt.Errorf("filedict: snapshot: %w: %d bytes after the section", ErrCorrupt, len(b)-n)
	}
	return &Snapshot{Entries: entries, Pending: pending}, nil
}

// Encode returns the snapshot section in canonical form: entries sorted by
// path bytes, pending renames sorted by Dst (then Src).
func (s *Snapshot) Encode() []byte {
	names := make([]string, 0, len(s.Entries))
	for n := range s.Entries {
		names = append(names, n)
	}
	slices.Sort(names)
	pending := slices.Clone(s.Pending)
	slices.SortFunc(pending, comparePending)
	return appendSnapshot(nil, names, func(n string) Entry { return s.Entries[n] }, pending)
}

func comparePending(a, b Rename) int {
	if c := cmp.Compare(a.Dst, b.Dst); c != 0 {
		return c
	}
	return cmp.Compare(a.Src, b.Src)
}

// appendSnapshot appends a snapshot section holding the sorted names (their
// entries found by lookup) and the sorted pending renames.
func appendSnapshot(dst []byte, names []string, lookup func(string) Entry, pending []Rename) []byte {
	size := snapshotFrameSize + 8
	for _, n := range names {
		size += 2 + len(n) + entrySize
	}
	for _, r := range pending {
		size += 5 + len(r.Src) + len(r.Dst) + entrySize
	}
	dst = slices.Grow(dst, size)
	start := len(dst)
	dst = append(dst, make([]byte, snapshotFrameSize)...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(names)))
	for _, n := range names {
		dst = appendName(dst, n)
		dst = appendEntry(dst, lookup(n))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(pending)))
	for _, r := range pending {
		dst = appendName(dst, r.Src)
		dst = appendName(dst, r.Dst)
		dst = appendFresh(dst, r.Fresh)
	}
	section := dst[start:]
	binary.BigEndian.PutUint64(section, uint64(len(section)-snapshotFrameSize))
	binary.BigEndian.PutUint32(section[8:], snapshotCRC(section))
	return dst
}

// snapshotCRC is the CRC32C of a section's length field and body.
func snapshotCRC(section []byte) uint32 {
	c := crc32.Update(0, castagnoli, section[:8])
	return crc32.Update(c, castagnoli, section[snapshotFrameSize:])
}

func appendName(dst []byte, name string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	return append(dst, name...)
}

func appendEntry(dst []byte, e Entry) []byte {
	dst = binary.BigEndian.AppendUint64(dst, e.KeyID)
	dst = append(dst, byte(e.Method))
	return append(dst, e.IV[:]...)
}

func appendFresh(dst []byte, fresh *Entry) []byte {
	if fresh == nil {
		return append(dst, 0)
	}
	return appendEntry(append(dst, 1), *fresh)
}

// decodeSnapshotSection decodes the snapshot section at the start of b and
// returns how many bytes it takes. All paths of the entries are substrings
// of one string, so a large dictionary costs one allocation for its names
// rather than one per file.
func decodeSnapshotSection(b []byte) (map[string]Entry, []Rename, int, error) {
	if len(b) < snapshotFrameSize {
		return nil, nil, 0, fmt.Errorf("%w: snapshot frame cut short (%d bytes)", ErrCorrupt, len(b))
	}
	length := binary.BigEndian.Uint64(b)
	if length > uint64(len(b)-snapshotFrameSize) {
		return nil, nil, 0, fmt.Errorf("%w: snapshot length %d runs past the end (%d bytes left)", ErrCorrupt, length, len(b)-snapshotFrameSize)
	}
	section := b[:snapshotFrameSize+int(length)]
	if got, want := snapshotCRC(section), binary.BigEndian.Uint32(b[8:]); got != want {
		return nil, nil, 0, fmt.Errorf("%w: snapshot checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	entries, pending, err := decodeSnapshotBody(section[snapshotFrameSize:])
	if err != nil {
		return nil, nil, 0, err
	}
	return entries, pending, len(section), nil
}

func decodeSnapshotBody(body []byte) (map[string]Entry, []Rename, error) {
	if len(body) < 4 {
		return nil, nil, fmt.Errorf("%w: snapshot body cut short", ErrCorrupt)
	}
	count := binary.BigEndian.Uint32(body)
	if uint64(count) > uint64(len(body)-4)/(3+entrySize) {
		return nil, nil, fmt.Errorf("%w: snapshot claims %d entries in %d bytes", ErrCorrupt, count, len(body))
	}
	// First pass: check the structure and the order, and add up the name
	// bytes so the second pass can copy them into one string.
	p, total := 4, 0
	var prev []byte
	for i := range int(count) {
		name, q, err := readName(body, p)
		if err != nil {
			return nil, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && bytes.Compare(prev, name) >= 0 {
			return nil, nil, fmt.Errorf("%w: entry %d (%q) is not after %q", ErrCorrupt, i, name, prev)
		}
		if err := checkEntryBytes(body, q); err != nil {
			return nil, nil, fmt.Errorf("entry %d (%q): %w", i, name, err)
		}
		prev, total, p = name, total+len(name), q+entrySize
	}
	pending, p, err := decodePending(body, p)
	if err != nil {
		return nil, nil, err
	}
	if p != len(body) {
		return nil, nil, fmt.Errorf("%w: %d bytes after the snapshot's pending renames", ErrCorrupt, len(body)-p)
	}
	var names strings.Builder
	names.Grow(total)
	entries := make(map[string]Entry, count)
	p = 4
	for range int(count) {
		n := int(binary.BigEndian.Uint16(body[p:]))
		start := names.Len()
		names.Write(body[p+2 : p+2+n])
		entries[names.String()[start:]] = decodeEntry(body[p+2+n:])
		p += 2 + n + entrySize
	}
	return entries, pending, nil
}

func decodePending(body []byte, p int) ([]Rename, int, error) {
	if len(body)-p < 4 {
		return nil, 0, fmt.Errorf("%w: pending-rename count cut short", ErrCorrupt)
	}
	count := binary.BigEndian.Uint32(body[p:])
	p += 4
	if uint64(count) > uint64(len(body)-p)/7 {
		return nil, 0, fmt.Errorf("%w: snapshot claims %d pending renames in %d bytes", ErrCorrupt, count, len(body)-p)
	}
	var pending []Rename
	for i := range int(count) {
		r, q, err := readRename(body, p)
		if err != nil {
			return nil, 0, fmt.Errorf("pending rename %d: %w", i, err)
		}
		if i > 0 && r.Dst <= pending[i-1].Dst {
			return nil, 0, fmt.Errorf("%w: pending rename %d (to %q) is not after the one to %q", ErrCorrupt, i, r.Dst, pending[i-1].Dst)
		}
		pending = append(pending, r)
		p = q
	}
	return pending, p, nil
}

// readRename reads source, destination, a fresh flag and the fresh entry
// when the flag is 1.
func readRename(b []byte, p int) (Rename, int, error) {
	src, p, err := readName(b, p)
	if err != nil {
		return Rename{}, 0, fmt.Errorf("source: %w", err)
	}
	dst, p, err := readName(b, p)
	if err != nil {
		return Rename{}, 0, fmt.Errorf("destination: %w", err)
	}
	if bytes.Equal(src, dst) {
		return Rename{}, 0, fmt.Errorf("%w: rename of %q to itself", ErrCorrupt, src)
	}
	r := Rename{Src: string(src), Dst: string(dst)}
	if p >= len(b) {
		return Rename{}, 0, fmt.Errorf("%w: fresh-entry flag cut short", ErrCorrupt)
	}
	switch b[p] {
	case 0:
		return r, p + 1, nil
	case 1:
		if err := checkEntryBytes(b, p+1); err != nil {
			return Rename{}, 0, fmt.Errorf("fresh entry: %w", err)
		}
		e := decodeEntry(b[p+1:])
		r.Fresh = &e
		return r, p + 1 + entrySize, nil
	}
	return Rename{}, 0, fmt.Errorf("%w: fresh-entry flag %d", ErrCorrupt, b[p])
}

// readName reads a 2-byte length and a valid path at b[p:].
func readName(b []byte, p int) ([]byte, int, error) {
	if len(b)-p < 2 {
		return nil, 0, fmt.Errorf("%w: path length cut short", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(b[p:]))
	p += 2
	if n == 0 || n > maxNameLen {
		return nil, 0, fmt.Errorf("%w: path length %d (1..%d)", ErrCorrupt, n, maxNameLen)
	}
	if len(b)-p < n {
		return nil, 0, fmt.Errorf("%w: path of %d bytes cut short", ErrCorrupt, n)
	}
	name := b[p : p+n]
	if bytes.IndexByte(name, 0) >= 0 {
		return nil, 0, fmt.Errorf("%w: path %q holds a NUL byte", ErrCorrupt, name)
	}
	return name, p + n, nil
}

// checkEntryBytes checks that an entry fits at b[p:] and names a method.
// Method values this build does not know are kept (a newer build may have
// written them); only 0, which is never a method, is refused.
func checkEntryBytes(b []byte, p int) error {
	if len(b)-p < entrySize {
		return fmt.Errorf("%w: entry cut short", ErrCorrupt)
	}
	if b[p+8] == 0 {
		return fmt.Errorf("%w: method 0", ErrCorrupt)
	}
	return nil
}

func decodeEntry(b []byte) Entry {
	e := Entry{KeyID: binary.BigEndian.Uint64(b), Method: ctr.Method(b[8])}
	copy(e.IV[:], b[9:entrySize])
	return e
}
