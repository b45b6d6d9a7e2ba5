package filedict

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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

// RecordType is the kind of a log record.
type RecordType uint8

// The log record types. Name is the path each record is about (the source
// for renames, the directory for RecordRemovePrefix).
const (
	// RecordInsert sets Name's entry to Entry.
	RecordInsert RecordType = iota + 1
	// RecordRemove deletes Name's entry.
	RecordRemove
	// RecordRemovePrefix deletes Name's entry and every entry under Name+"/".
	RecordRemovePrefix
	// RecordRenameBegin records the intent to rename Name to Dst; with
	// HasEntry, Dst will get Entry rather than Name's entry.
	RecordRenameBegin
	// RecordRenameCommit applies the pending rename of Name to Dst.
	RecordRenameCommit
	// RecordRenameAbort drops the pending rename of Name to Dst.
	RecordRenameAbort
	// RecordGroup is the type of a group frame, which holds the records of
	// one group commit in a version-3 log (see EncodeGroup). It is never
	// the Type of a Record.
	RecordGroup
)

var recordTypeNames = [...]string{
	RecordInsert:       "insert",
	RecordRemove:       "remove",
	RecordRemovePrefix: "remove-prefix",
	RecordRenameBegin:  "rename-begin",
	RecordRenameCommit: "rename-commit",
	RecordRenameAbort:  "rename-abort",
	RecordGroup:        "group",
}

// String returns the type's name, "insert" through "rename-abort", or
// "group", or "RecordType(N)".
func (t RecordType) String() string {
	if t >= RecordInsert && t <= RecordGroup {
		return recordTypeNames[t]
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// isChange reports whether t is the type of a Record: a change, not a
// group frame.
func (t RecordType) isChange() bool { return t >= RecordInsert && t <= RecordRenameAbort }

// Record is one change in the log of a dictionary: a frame of its own in
// version 2, inside a group frame in version 3.
type Record struct {
	// Type says which change this is and which fields it uses.
	Type RecordType
	// Name is the path (Insert, Remove), the directory (RemovePrefix) or
	// the rename source (RenameBegin, RenameCommit, RenameAbort).
	Name string
	// Dst is the rename destination (RenameBegin, RenameCommit,
	// RenameAbort).
	Dst string
	// Entry is the new entry (Insert) or the fresh entry of a rename
	// (RenameBegin with HasEntry).
	Entry Entry
	// HasEntry tells whether Entry is set: always for Insert, for
	// RenameBegin when the destination gets a fresh entry.
	HasEntry bool
}

// Encode returns the framed record: CRC32C, payload length, type, payload.
func (r Record) Encode() []byte { return r.appendTo(nil) }

func (r Record) appendTo(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, byte(r.Type))
	switch r.Type {
	case RecordInsert:
		dst = appendName(dst, r.Name)
		dst = appendEntry(dst, r.Entry)
	case RecordRemove, RecordRemovePrefix:
		dst = appendName(dst, r.Name)
	case RecordRenameBegin:
		dst = appendName(dst, r.Name)
		dst = appendName(dst, r.Dst)
		if r.HasEntry {
			dst = appendFresh(dst, &r.Entry)
		} else {
			dst = appendFresh(dst, nil)
		}
	case RecordRenameCommit, RecordRenameAbort:
		dst = appendName(dst, r.Name)
		dst = appendName(dst, r.Dst)
	}
	rec := dst[start:]
	binary.BigEndian.PutUint32(rec[4:], uint32(len(rec)-recordHeaderSize))
	binary.BigEndian.PutUint32(rec, crc32.Checksum(rec[4:], castagnoli))
	return dst
}

// DecodeRecord decodes the framed record at the start of b and returns it
// with its length in bytes. A record cut short wraps io.ErrUnexpectedEOF;
// a bad checksum, a payload longer than 64 KiB or a malformed payload
// wraps ErrCorrupt.
func DecodeRecord(b []byte) (Record, int, error) {
	typ, payload, n, st := readFrame(b)
	switch st {
	case frameShort:
		return Record{}, 0, fmt.Errorf("filedict: record: %w", io.ErrUnexpectedEOF)
	case frameTooLong, frameBadCRC:
		return Record{}, 0, fmt.Errorf("filedict: record: %w: %s", ErrCorrupt, st)
	}
	r, err := decodePayload(typ, payload)
	if err != nil {
		return Record{}, 0, fmt.Errorf("filedict: record: %w", err)
	}
	return r, n, nil
}

type frameStatus int

const (
	frameOK      frameStatus = iota
	frameShort               // the header or the payload runs past the end
	frameTooLong             // the payload length exceeds maxRecordPayload
	frameBadCRC              // the checksum does not match
)

func (s frameStatus) String() string {
	switch s {
	case frameOK:
		return "ok"
	case frameShort:
		return "cut short"
	case frameTooLong:
		return "payload longer than 64 KiB"
	}
	return "checksum mismatch"
}

// readFrame checks the framing of the record at the start of b.
func readFrame(b []byte) (RecordType, []byte, int, frameStatus) {
	if len(b) < recordHeaderSize {
		return 0, nil, 0, frameShort
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n > maxRecordPayload {
		return 0, nil, 0, frameTooLong
	}
	end := recordHeaderSize + int(n)
	if len(b) < end {
		return 0, nil, 0, frameShort
	}
	if crc32.Checksum(b[4:end], castagnoli) != binary.BigEndian.Uint32(b) {
		return 0, nil, 0, frameBadCRC
	}
	return RecordType(b[8]), b[recordHeaderSize:end], end, frameOK
}

func decodePayload(typ RecordType, p []byte) (Record, error) {
	r, q, err := parseBody(typ, p)
	if err != nil {
		return Record{}, err
	}
	if q != len(p) {
		return Record{}, fmt.Errorf("%w: %d bytes after the %s payload", ErrCorrupt, len(p)-q, typ)
	}
	return r, nil
}

// parseBody decodes the fields of a record of type typ at the start of p
// and returns the record with the number of bytes its fields take: the
// fields delimit themselves, so this works without the frame's length
// (which a best-effort parse of a damaged record cannot trust).
func parseBody(typ RecordType, p []byte) (Record, int, error) {
	r := Record{Type: typ}
	var q int
	switch typ {
	case RecordInsert:
		name, next, err := readName(p, 0)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%s: %w", typ, err)
		}
		if err := checkEntryBytes(p, next); err != nil {
			return Record{}, 0, fmt.Errorf("%s %q: %w", typ, name, err)
		}
		r.Name, r.Entry, r.HasEntry = string(name), decodeEntry(p[next:]), true
		q = next + entrySize
	case RecordRemove, RecordRemovePrefix:
		name, next, err := readName(p, 0)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%s: %w", typ, err)
		}
		r.Name, q = string(name), next
	case RecordRenameBegin:
		rn, next, err := readRename(p, 0)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%s: %w", typ, err)
		}
		r.Name, r.Dst, q = rn.Src, rn.Dst, next
		if rn.Fresh != nil {
			r.Entry, r.HasEntry = *rn.Fresh, true
		}
	case RecordRenameCommit, RecordRenameAbort:
		src, next, err := readName(p, 0)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%s source: %w", typ, err)
		}
		dst, next, err := readName(p, next)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%s destination: %w", typ, err)
		}
		if bytes.Equal(src, dst) {
			return Record{}, 0, fmt.Errorf("%w: %s of %q to itself", ErrCorrupt, typ, src)
		}
		r.Name, r.Dst, q = string(src), string(dst), next
	case RecordGroup:
		return Record{}, 0, fmt.Errorf("%w: a group frame where a record belongs", ErrCorrupt)
	default:
		return Record{}, 0, fmt.Errorf("%w: unknown record type %d", ErrCorrupt, uint8(typ))
	}
	return r, q, nil
}
