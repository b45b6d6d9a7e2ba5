package filedict

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, v := range []int{1, 2, 3} {
		b := Header{Version: v}.Encode()
		if len(b) != headerSize || string(b[:4]) != "ATFD" || b[4] != byte(v) {
			t.Fatalf("version %d: header %x", v, b)
		}
		h, n, err := DecodeHeader(append(b, "trailing"...))
		if err != nil || n != headerSize || h.Version != v {
			t.Fatalf("version %d: DecodeHeader = %v, %d, %v", v, h, n, err)
		}
	}
}

func TestHeaderRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		maxVer  int
		wantErr error
		wantMsg string
	}{
		{"short", []byte("ATFD\x03\x00\x00"), 3, ErrCorrupt, "7 bytes"},
		{"empty", nil, 3, ErrCorrupt, "0 bytes"},
		{"magic", []byte("ATFX\x03\x00\x00\x00"), 3, ErrCorrupt, "magic"},
		{"version 0", []byte("ATFD\x00\x00\x00\x00"), 3, ErrUnknownVersion, "unknown version 0"},
		{"version 4", []byte("ATFD\x04\x00\x00\x00"), 3, ErrUnknownVersion, "unknown version 4"},
		{"version 9", []byte("ATFD\x09\x00\x00\x00"), 3, ErrUnknownVersion, "unknown version 9"},
		{"version 9 with reserved bits", []byte("ATFD\x09\x01\x00\x00"), 3, ErrUnknownVersion, "unknown version 9"},
		{"reserved", []byte("ATFD\x03\x00\x01\x00"), 3, ErrCorrupt, "reserved"},
		{"version-1 reader, version 2", []byte("ATFD\x02\x00\x00\x00"), 1, ErrUnknownVersion, "unknown version 2"},
		{"version-2 reader, version 3", []byte("ATFD\x03\x00\x00\x00"), 2, ErrUnknownVersion, "unknown version 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := decodeHeader(tc.in, tc.maxVer)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) || n != 0 {
				t.Fatalf("got %d, %v; want %v containing %q", n, err, tc.wantErr, tc.wantMsg)
			}
		})
	}
	if _, _, err := decodeHeader(Header{Version: 1}.Encode(), 1); err != nil {
		t.Fatalf("version-1 reader refuses version 1: %v", err)
	}
}

func sampleSnapshot() *Snapshot {
	return &Snapshot{
		Entries: map[string]Entry{
			"000123.sst":                    entry(1),
			"db/wal/000123.log":             entry(2),
			"MANIFEST-000001":               entry(3),
			"a":                             entry(4),
			strings.Repeat("x", maxNameLen): entry(5),
		},
		Pending: []Rename{
			{Src: "tmp/1", Dst: "z"},
			{Src: "000123.sst", Dst: "b", Fresh: entryPtr(9)},
			{Src: "a", Dst: "db/wal/000124.log"},
		},
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, s := range []*Snapshot{{}, {Entries: map[string]Entry{"only": entry(7)}}, sampleSnapshot()} {
		b := s.Encode()
		got, err := DecodeSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Entries) != len(s.Entries) {
			t.Fatalf("%d entries, want %d", len(got.Entries), len(s.Entries))
		}
		for n, e := range s.Entries {
			if got.Entries[n] != e {
				t.Fatalf("entry %q = %v, want %v", n, got.Entries[n], e)
			}
		}
		want := append([]Rename(nil), s.Pending...)
		sortRenames(want)
		if len(want) != 0 && !reflect.DeepEqual(got.Pending, want) {
			t.Fatalf("pending %v, want %v", got.Pending, want)
		}
		if again := got.Encode(); !bytes.Equal(again, b) {
			t.Fatal("re-encoding a decoded snapshot changes its bytes")
		}
	}
}

func sortRenames(r []Rename) {
	for i := range r {
		for j := i + 1; j < len(r); j++ {
			if comparePending(r[j], r[i]) < 0 {
				r[i], r[j] = r[j], r[i]
			}
		}
	}
}

// rawSnapshot frames body as a snapshot section with a valid checksum.
func rawSnapshot(body []byte) []byte {
	b := make([]byte, snapshotFrameSize, snapshotFrameSize+len(body))
	b = append(b, body...)
	b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7] = 0, 0, 0, 0, byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	c := snapshotCRC(b)
	b[8], b[9], b[10], b[11] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	return b
}

func rawEntry(name string, method byte) []byte {
	b := []byte{byte(len(name) >> 8), byte(len(name))}
	b = append(b, name...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 1, method)
	return append(b, make([]byte, 16)...)
}

func TestSnapshotRejects(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	u32 := func(n int) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }
	good := sampleSnapshot().Encode()
	badCRC := bytes.Clone(good)
	badCRC[20] ^= 1
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "cut short"},
		{"length past end", good[:len(good)-1], "runs past the end"},
		{"trailing", append(bytes.Clone(good), 0), "after the section"},
		{"checksum", badCRC, "checksum"},
		{"unsorted", rawSnapshot(cat(u32(2), rawEntry("b", 1), rawEntry("a", 1), u32(0))), "is not after"},
		{"duplicate", rawSnapshot(cat(u32(2), rawEntry("a", 1), rawEntry("a", 1), u32(0))), "is not after"},
		{"method 0", rawSnapshot(cat(u32(1), rawEntry("a", 0), u32(0))), "method 0"},
		{"empty name", rawSnapshot(cat(u32(1), rawEntry("", 1), u32(0))), "path length 0"},
		{"NUL in name", rawSnapshot(cat(u32(1), rawEntry("a\x00b", 1), u32(0))), "NUL"},
		{"too many entries", rawSnapshot(cat(u32(1000), rawEntry("a", 1), u32(0))), "claims 1000 entries"},
		{"no pending count", rawSnapshot(cat(u32(1), rawEntry("a", 1))), "pending-rename count"},
		{"body trailing", rawSnapshot(cat(u32(0), u32(0), []byte{0})), "after the snapshot's pending"},
		{"pending to itself", rawSnapshot(cat(u32(0), u32(1), []byte{0, 1, 'a', 0, 1, 'a', 0})), "to itself"},
		{"pending flag 2", rawSnapshot(cat(u32(0), u32(1), []byte{0, 1, 'a', 0, 1, 'b', 2})), "flag 2"},
		{"pending duplicate dst", rawSnapshot(cat(u32(0), u32(2), []byte{0, 1, 'a', 0, 1, 'c', 0, 0, 1, 'b', 0, 1, 'c', 0})), "is not after"},
		{"pending unsorted", rawSnapshot(cat(u32(0), u32(2), []byte{0, 1, 'a', 0, 1, 'd', 0, 0, 1, 'b', 0, 1, 'c', 0})), "is not after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSnapshot(tc.in)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrCorrupt containing %q", err, tc.want)
			}
		})
	}
}

func sampleRecords() []Record {
	return []Record{
		{Type: RecordInsert, Name: "000123.sst", Entry: entry(1), HasEntry: true},
		{Type: RecordInsert, Name: strings.Repeat("d/", maxNameLen/2-1) + "f", Entry: entry(2), HasEntry: true},
		{Type: RecordRemove, Name: "000123.sst"},
		{Type: RecordRemovePrefix, Name: "db/wal"},
		{Type: RecordRenameBegin, Name: "a.tmp", Dst: "a"},
		{Type: RecordRenameBegin, Name: "000001.log", Dst: "000009.log", Entry: entry(3), HasEntry: true},
		{Type: RecordRenameCommit, Name: "a.tmp", Dst: "a"},
		{Type: RecordRenameAbort, Name: "000001.log", Dst: "000009.log"},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range sampleRecords() {
		t.Run(r.Type.String(), func(t *testing.T) {
			b := r.Encode()
			got, n, err := DecodeRecord(append(bytes.Clone(b), 0xff, 0xee))
			if err != nil || n != len(b) {
				t.Fatalf("DecodeRecord = %d, %v", n, err)
			}
			if got != r {
				t.Fatalf("decoded %+v, want %+v", got, r)
			}
			if !bytes.Equal(got.Encode(), b) {
				t.Fatal("re-encoding changes the bytes")
			}
		})
	}
}

func TestRecordRejects(t *testing.T) {
	ins := Record{Type: RecordInsert, Name: "a", Entry: entry(1), HasEntry: true}.Encode()
	// reframe builds a record with a valid checksum around any payload.
	reframe := func(typ byte, payload []byte) []byte {
		b := Record{Type: RecordType(typ)}.Encode()[:recordHeaderSize]
		b = append(b, payload...)
		n := len(payload)
		b[4], b[5], b[6], b[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		c := crcOf(b[4:])
		b[0], b[1], b[2], b[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		return b
	}
	flipped := func(i int) []byte { b := bytes.Clone(ins); b[i] ^= 0x10; return b }
	tooLong := bytes.Clone(ins)
	tooLong[5] = 0x01 // payload length 65536 + 29
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		want    string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, ""},
		{"short header", ins[:8], io.ErrUnexpectedEOF, ""},
		{"short payload", ins[:len(ins)-1], io.ErrUnexpectedEOF, ""},
		{"checksum", flipped(0), ErrCorrupt, "checksum"},
		{"length covered by checksum", flipped(7), ErrCorrupt, ""},
		{"type covered by checksum", flipped(8), ErrCorrupt, "checksum"},
		{"payload", flipped(12), ErrCorrupt, "checksum"},
		{"too long", tooLong, ErrCorrupt, "longer than 64 KiB"},
		{"unknown type", reframe(8, nil), ErrCorrupt, "unknown record type 8"},
		{"group type", reframe(7, ins), ErrCorrupt, "a group frame where a record belongs"},
		{"type 0", reframe(0, nil), ErrCorrupt, "unknown record type 0"},
		{"trailing payload", reframe(2, []byte{0, 1, 'a', 0}), ErrCorrupt, "after the remove payload"},
		{"empty name", reframe(2, []byte{0, 0}), ErrCorrupt, "path length 0"},
		{"long name", reframe(2, append([]byte{0x10, 0x01}, make([]byte, 4097)...)), ErrCorrupt, "path length 4097"},
		{"NUL", reframe(3, []byte{0, 2, 'a', 0}), ErrCorrupt, "NUL"},
		{"insert method 0", reframe(1, rawEntry("a", 0)), ErrCorrupt, "method 0"},
		{"insert short entry", reframe(1, rawEntry("a", 1)[:20]), ErrCorrupt, "cut short"},
		{"rename to itself", reframe(5, []byte{0, 1, 'a', 0, 1, 'a'}), ErrCorrupt, "to itself"},
		{"begin flag 2", reframe(4, []byte{0, 1, 'a', 0, 1, 'b', 2}), ErrCorrupt, "flag 2"},
		{"begin no flag", reframe(4, []byte{0, 1, 'a', 0, 1, 'b'}), ErrCorrupt, "flag cut short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := DecodeRecord(tc.in)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.want) || n != 0 {
				t.Fatalf("got %d, %v; want %v containing %q", n, err, tc.wantErr, tc.want)
			}
		})
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestRecordTypeString(t *testing.T) {
	if s := RecordRenameAbort.String(); s != "rename-abort" {
		t.Fatal(s)
	}
	if s := RecordGroup.String(); s != "group" {
		t.Fatal(s)
	}
	if s := RecordType(42).String(); s != "RecordType(42)" {
		t.Fatal(s)
	}
}
