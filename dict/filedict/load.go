package filedict

import (
	"encoding/binary"
	"fmt"
)

// Loading a dictionary file at Open: header and snapshot, then the log
// replayed up to its end or to the first frame that fails its framing:
// a torn tail, dropped, or damage (ErrCorrupt) when what follows shows
// that the frame was synced.

type loaded struct {
	version int
	entries map[string]Entry
	pending map[string]Rename
	end     int64 // length of the valid content
	torn    bool  // bytes after end are zeros or a torn tail
	tail    Tail  // what follows end
	records int
	dead    int
}

// load decodes a whole dictionary file, replaying the log of versions 2
// and 3.
func load(data []byte, maxVer int) (*loaded, error) {
	h, off, err := decodeHeader(data, maxVer)
	if err != nil {
		return nil, err
	}
	entries, pend, n, err := decodeSnapshotSection(data[off:])
	if err != nil {
		return nil, fmt.Errorf("snapshot at offset %d: %w", off, err)
	}
	off += n
	ld := &loaded{version: h.Version, entries: entries, pending: make(map[string]Rename, len(pend))}
	for _, r := range pend {
		ld.pending[r.Dst] = r
	}
	st := &mapState{entries: ld.entries, pending: ld.pending}
	switch h.Version {
	case 1:
		if off != len(data) {
			return nil, fmt.Errorf("%w: %d bytes after the version-1 snapshot", ErrCorrupt, len(data)-off)
		}
		ld.end = int64(off)
		ld.tail.Offset = ld.end
		return ld, nil
	case 2:
		err = ld.replayRecords(data, off, st)
	default:
		err = ld.replayGroups(data, off, st)
	}
	if err != nil {
		return nil, err
	}
	return ld, nil
}

// apply applies the log record r, at offset off, to st.
func (ld *loaded) apply(st *mapState, off int, r Record) error {
	_, dead, err := applyRecord(st, r)
	if err != nil {
		return fmt.Errorf("%w: record at offset %d: %w", ErrCorrupt, off, err)
	}
	ld.records++
	ld.dead += dead
	return nil
}

// replayGroups replays a version-3 log, group frames from data[off:] on.
//
// The first group whose framing fails ends the log: zeros from there on
// are its normal end (the writer's zeros ahead of the log), anything else
// a torn tail, dropped, when no valid group starts at any later offset.
// The writer syncs a group before it writes the next, so a valid group
// after a failed one proves the failed one was synced, and damaged since:
// ErrCorrupt. A torn group may have lost any of its blocks, so what its
// bytes hold does not matter, only what follows it.
func (ld *loaded) replayGroups(data []byte, off int, st *mapState) error {
	for off < len(data) {
		g := readGroup(data[off:])
		if g.problem != "" {
			if next := validGroupAfter(data, off+1); next >= 0 {
				return fmt.Errorf("%w: group at offset %d: %s, and a valid group follows at offset %d", ErrCorrupt, off, g.problem, next)
			}
			break
		}
		err := groupRecords(g.payload, off+recordHeaderSize, func(roff int, r Record) error {
			return ld.apply(st, roff, r)
		})
		if err != nil {
			return fmt.Errorf("group at offset %d: %w", off, err)
		}
		off += g.n
	}
	ld.end = int64(off)
	ld.torn = off < len(data)
	ld.tail = describeTail(data, off, true)
	return nil
}

// replayRecords replays a version-2 log, records from data[off:] on.
func (ld *loaded) replayRecords(data []byte, off int, st *mapState) error {
	for off < len(data) {
		typ, payload, n, fst := readFrame(data[off:])
		if fst != frameOK {
			if !tornTail(data, off, fst) {
				return fmt.Errorf("%w: record at offset %d: %s, and data follows it", ErrCorrupt, off, fst)
			}
			break
		}
		r, err := decodePayload(typ, payload)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		if err := ld.apply(st, off, r); err != nil {
			return err
		}
		off += n
	}
	ld.end = int64(off)
	ld.torn = off < len(data)
	ld.tail = describeTail(data, off, false)
	return nil
}

// tornTail decides whether the version-2 record at data[off:], whose frame
// failed with fst, is the torn tail of an interrupted append rather than
// damage in the middle of the log. It is torn when nothing after it
// decodes as a record and it is all zeros, or runs past the end of the
// file, or fails its checksum with only zeros (or nothing) after its end.
// A payload length over the cap counts as torn only when it runs past the
// end or all is zero. The search for a later valid record keeps a damaged
// length field in a middle record from passing for a torn tail.
func tornTail(data []byte, off int, fst frameStatus) bool {
	if validRecordAfter(data, off+1) {
		return false
	}
	rest := data[off:]
	if allZero(rest) || len(rest) < recordHeaderSize {
		return true
	}
	end := uint64(off) + recordHeaderSize + uint64(binary.BigEndian.Uint32(rest[4:]))
	if end > uint64(len(data)) {
		return true
	}
	if fst == frameTooLong {
		return false
	}
	return allZero(data[end:])
}

// validRecordAfter reports whether a record with a valid frame starts at
// any offset from `from` on.
func validRecordAfter(data []byte, from int) bool {
	for p := from; p+recordHeaderSize <= len(data); p++ {
		n := binary.BigEndian.Uint32(data[p+4:])
		t := RecordType(data[p+8])
		if n > maxRecordPayload || uint64(p)+recordHeaderSize+uint64(n) > uint64(len(data)) || !t.isChange() {
			continue
		}
		if _, _, _, st := readFrame(data[p:]); st == frameOK {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
