package filedict

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Log records: their types, their encoding, and the framing of a single
// record (versions 2 and 3; group.go frames a version 3 group of them).

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
