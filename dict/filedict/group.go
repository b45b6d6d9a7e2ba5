package filedict

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// EncodeGroup returns the group frame that holds recs, as a version-3 log
// stores one group commit: CRC32C (4 bytes), payload length (4), type
// RecordGroup (1), and the payload, which is recs encoded as Record.Encode
// does, in order. The checksum covers the length, the type and the
// payload. A reader refuses a payload over 16 MiB and a group with no
// record; EncodeGroup does not check either.
func EncodeGroup(recs []Record) []byte { return appendGroup(nil, recs) }

func appendGroup(dst []byte, recs []Record) []byte {
	start := len(dst)
	dst = appendGroupHeader(dst)
	for _, r := range recs {
		dst = r.appendTo(dst)
	}
	sealGroup(dst[start:])
	return dst
}

// appendGroupHeader appends the header of a group frame, to be filled in
// by sealGroup once the payload follows it.
func appendGroupHeader(dst []byte) []byte {
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0, byte(RecordGroup))
}

// sealGroup fills in the length and the checksum of the group frame f.
func sealGroup(f []byte) {
	binary.BigEndian.PutUint32(f[4:], uint32(len(f)-recordHeaderSize))
	binary.BigEndian.PutUint32(f, crc32.Checksum(f[4:], castagnoli))
}

// DecodeGroup decodes the group frame at the start of b and returns its
// records with the frame's length in bytes. A frame cut short wraps
// io.ErrUnexpectedEOF; a bad checksum, another type than RecordGroup, a
// payload over 16 MiB or empty, and a payload that is not a sequence of
// valid records filling it exactly wrap ErrCorrupt.
func DecodeGroup(b []byte) ([]Record, int, error) {
	g := readGroup(b)
	if g.problem != "" {
		if g.short {
			return nil, 0, fmt.Errorf("filedict: group: %s: %w", g.problem, io.ErrUnexpectedEOF)
		}
		return nil, 0, fmt.Errorf("filedict: group: %w: %s", ErrCorrupt, g.problem)
	}
	var recs []Record
	err := groupRecords(g.payload, recordHeaderSize, func(_ int, r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("filedict: group: %w", err)
	}
	return recs, g.n, nil
}

// groupFrame is the outcome of reading a group frame's framing.
type groupFrame struct {
	payload []byte
	n       int    // the frame's length
	problem string // why the framing fails; "" when it holds
	short   bool   // it fails because the bytes end too early
}

// readGroup checks the framing of the group frame at the start of b: its
// length, type and checksum, not the records inside.
func readGroup(b []byte) groupFrame {
	if len(b) < recordHeaderSize {
		return groupFrame{problem: fmt.Sprintf("header cut short (%d bytes)", len(b)), short: true}
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n > maxGroupPayload {
		return groupFrame{problem: fmt.Sprintf("payload length %d over the 16 MiB cap", n)}
	}
	end := recordHeaderSize + int(n)
	if len(b) < end {
		return groupFrame{problem: fmt.Sprintf("payload of %d bytes cut short (%d left)", n, len(b)-recordHeaderSize), short: true}
	}
	if crc32.Checksum(b[4:end], castagnoli) != binary.BigEndian.Uint32(b) {
		return groupFrame{problem: "checksum mismatch"}
	}
	if t := RecordType(b[8]); t != RecordGroup {
		return groupFrame{problem: fmt.Sprintf("frame of type %s, not a group", t)}
	}
	if n == 0 {
		return groupFrame{problem: "empty group"}
	}
	return groupFrame{payload: b[recordHeaderSize:end], n: end}
}

// groupRecords decodes the records of a group's payload, which starts at
// offset base of the file, and calls fn with each record's offset. The
// records must fill the payload exactly; anything else wraps ErrCorrupt.
func groupRecords(payload []byte, base int, fn func(off int, r Record) error) error {
	for p := 0; p < len(payload); {
		typ, body, n, st := readFrame(payload[p:])
		if st != frameOK {
			return fmt.Errorf("%w: record at offset %d: %s", ErrCorrupt, base+p, st)
		}
		r, err := decodePayload(typ, body)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", base+p, err)
		}
		if err := fn(base+p, r); err != nil {
			return err
		}
		p += n
	}
	return nil
}

// validGroupAfter returns the first offset from `from` on where a group
// frame with valid framing starts, or -1. It looks at every offset, so a
// damaged length field cannot hide the groups after it.
func validGroupAfter(data []byte, from int) int {
	for p := from; p+recordHeaderSize <= len(data); p++ {
		if RecordType(data[p+8]) != RecordGroup {
			continue
		}
		n := binary.BigEndian.Uint32(data[p+4:])
		if n == 0 || n > maxGroupPayload || uint64(p)+recordHeaderSize+uint64(n) > uint64(len(data)) {
			continue
		}
		if g := readGroup(data[p:]); g.problem == "" {
			return p
		}
	}
	return -1
}

// Tail is what a reader dropped after the end of a dictionary's log: the
// torn write of a group commit that was interrupted, so never
// acknowledged (see docs/FORMAT.md). It can also be damage to the last
// group that was acknowledged, which the file cannot tell from a torn
// write; the records it lists let the dictionary's owner check: a dropped
// insert of a file that exists and is not empty means an acknowledged
// change was lost.
type Tail struct {
	// Offset is the file offset where the dropped region starts: the end
	// of the last valid group (version 3) or record (version 2).
	Offset int64
	// Bytes is the length of the dropped region up to and including its
	// last non-zero byte. 0 means only zeros (or nothing) followed the
	// log: nothing was dropped.
	Bytes int64
	// Records lists the records found in the dropped region, in file
	// order, best effort: every record whose own checksum holds, wherever
	// it starts; and, where a record is expected (at the start of the
	// group's payload, or of a version-2 record, and right after a record
	// whose length field agrees with its fields), a record whose checksum
	// fails but whose fields still parse.
	Records []TailRecord
}

// TailRecord is a record found in a dropped tail.
type TailRecord struct {
	Record
	// Offset is the file offset of the record's frame.
	Offset int64
	// Verified tells whether the record's own checksum holds. When false,
	// the record was parsed from its fields alone: any of them may be
	// damaged.
	Verified bool
}

// describeTail lists what the dropped region data[off:] holds. In a
// version-3 log the region starts with a group header, which is skipped
// (group is true).
func describeTail(data []byte, off int, group bool) Tail {
	region := data[off:]
	last := len(region)
	for last > 0 && region[last-1] == 0 {
		last--
	}
	t := Tail{Offset: int64(off), Bytes: int64(last)}
	p := 0
	if group {
		p = recordHeaderSize
	}
	for p < last {
		if r, n, ok := verifiedRecord(region[p:]); ok {
			t.Records = append(t.Records, TailRecord{Record: r, Offset: int64(off + p), Verified: true})
			p += n
			continue
		}
		if r, n, ok := parsedRecord(region[p:]); ok {
			t.Records = append(t.Records, TailRecord{Record: r, Offset: int64(off + p)})
			if uint64(n) == recordHeaderSize+uint64(binary.BigEndian.Uint32(region[p+4:])) {
				p += n // the length field agrees: the next record follows
				continue
			}
		}
		// Lost track: go on at the next record whose checksum holds.
		for p++; p < last; p++ {
			if _, _, ok := verifiedRecord(region[p:]); ok {
				break
			}
		}
	}
	return t
}

// verifiedRecord decodes the record at the start of b if its frame and
// payload are valid.
func verifiedRecord(b []byte) (Record, int, bool) {
	if len(b) < recordHeaderSize || !RecordType(b[8]).isChange() {
		return Record{}, 0, false
	}
	typ, payload, n, st := readFrame(b)
	if st != frameOK {
		return Record{}, 0, false
	}
	r, err := decodePayload(typ, payload)
	if err != nil {
		return Record{}, 0, false
	}
	return r, n, true
}

// parsedRecord decodes the record at the start of b from its type and its
// fields, ignoring its checksum and its length field.
func parsedRecord(b []byte) (Record, int, bool) {
	if len(b) < recordHeaderSize || !RecordType(b[8]).isChange() {
		return Record{}, 0, false
	}
	r, q, err := parseBody(RecordType(b[8]), b[recordHeaderSize:])
	if err != nil {
		return Record{}, 0, false
	}
	return r, recordHeaderSize + q, true
}

// Contents is a whole dictionary file as Decode reads it.
type Contents struct {
	// Version is the file's format version.
	Version int
	// State is the snapshot with the log applied: every entry and pending
	// rename the file holds, pending renames sorted by Dst.
	State *Snapshot
	// LogRecords and DeadRecords count the log's records as Stats does.
	LogRecords, DeadRecords int
	// End is the length of the valid contents. What follows is zeros or a
	// torn tail, which Open would truncate.
	End int64
	// Tail describes what follows End (see Dict.DroppedTail).
	Tail Tail
}

// Decode decodes a whole dictionary file, data, as Open does, without
// touching any file: it replays the log, tells a torn tail from damage by
// the same rules, and reports the tail it would drop. Errors wrap
// ErrCorrupt or ErrUnknownVersion.
func Decode(data []byte) (*Contents, error) {
	ld, err := load(data, maxVersion)
	if err != nil {
		return nil, fmt.Errorf("filedict: decode: %w", err)
	}
	s := &Snapshot{Entries: ld.entries}
	for _, r := range ld.pending {
		s.Pending = append(s.Pending, r)
	}
	slices.SortFunc(s.Pending, comparePending)
	return &Contents{
		Version:     ld.version,
		State:       s,
		LogRecords:  ld.records,
		DeadRecords: ld.dead,
		End:         ld.end,
		Tail:        ld.tail,
	}, nil
}
