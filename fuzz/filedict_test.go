package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fdEntry(n int) filedict.Entry {
	e := filedict.Entry{KeyID: uint64(n) << 40, Method: ctr.Methods[n%len(ctr.Methods)]}
	for i := range e.IV {
		e.IV[i] = byte(n + i*13)
	}
	return e
}

// FuzzFileDictHeader feeds arbitrary bytes to the file-dictionary header
// decoder: no panic, and a header it accepts re-encodes to exactly the
// bytes it consumed.
func FuzzFileDictHeader(f *testing.F) {
	for _, v := range []int{1, 2, 3} {
		f.Add(filedict.Header{Version: v}.Encode())
	}
	f.Add([]byte("ATFD\x09\x00\x00\x00"))
	f.Add([]byte("ATFD\x02\x00\x00\x00trailing"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, n, err := filedict.DecodeHeader(data)
		if err != nil {
			if !errors.Is(err, filedict.ErrCorrupt) && !errors.Is(err, filedict.ErrUnknownVersion) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if n > len(data) || !bytes.Equal(h.Encode(), data[:n]) {
			t.Fatalf("%+v (%d bytes) re-encodes to %x, input %x", h, n, h.Encode(), data)
		}
	})
}

// FuzzFileDictRecord feeds arbitrary bytes to the log-record decoder: no
// panic, and a record it accepts re-encodes to exactly the bytes it
// consumed.
func FuzzFileDictRecord(f *testing.F) {
	fresh := fdEntry(3)
	for _, r := range []filedict.Record{
		{Type: filedict.RecordInsert, Name: "000123.sst", Entry: fdEntry(1), HasEntry: true},
		{Type: filedict.RecordInsert, Name: "db/wal/000123.log", Entry: fdEntry(2), HasEntry: true},
		{Type: filedict.RecordRemove, Name: "000123.sst"},
		{Type: filedict.RecordRemovePrefix, Name: "db/wal"},
		{Type: filedict.RecordRenameBegin, Name: "a.tmp", Dst: "a"},
		{Type: filedict.RecordRenameBegin, Name: "000001.log", Dst: "000009.log", Entry: fresh, HasEntry: true},
		{Type: filedict.RecordRenameCommit, Name: "a.tmp", Dst: "a"},
		{Type: filedict.RecordRenameAbort, Name: "000001.log", Dst: "000009.log"},
	} {
		b := r.Encode()
		f.Add(b)
		f.Add(append(bytes.Clone(b), b...))
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	check := func(t *testing.T, data []byte) {
		r, n, err := filedict.DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, filedict.ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if n > len(data) || !bytes.Equal(r.Encode(), data[:n]) {
			t.Fatalf("%+v (%d bytes) re-encodes to %x, input %x", r, n, r.Encode(), data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		// The same bytes with a length and checksum that match, so the
		// payload parser sees every input, not only the 1 in 2^32 that
		// passes the checksum.
		if len(data) >= 9 {
			framed := bytes.Clone(data)
			binary.BigEndian.PutUint32(framed[4:], uint32(len(framed)-9))
			binary.BigEndian.PutUint32(framed, crc32.Checksum(framed[4:], castagnoli))
			check(t, framed)
		}
	})
}

// FuzzFileDictSnapshot feeds arbitrary bytes to the snapshot decoder: no
// panic, and a snapshot it accepts re-encodes to exactly its input.
func FuzzFileDictSnapshot(f *testing.F) {
	fresh := fdEntry(9)
	seeds := []*filedict.Snapshot{
		{},
		{Entries: map[string]filedict.Entry{"000123.sst": fdEntry(1)}},
		{
			Entries: map[string]filedict.Entry{
				"000123.sst":             fdEntry(1),
				"db/wal/000123.log":      fdEntry(2),
				"MANIFEST-000001":        fdEntry(3),
				strings.Repeat("d", 300): fdEntry(4),
			},
			Pending: []filedict.Rename{
				{Src: "000123.sst", Dst: "000124.sst"},
				{Src: "db/wal/000123.log", Dst: "db/wal/000125.log", Fresh: &fresh},
			},
		},
	}
	for _, s := range seeds {
		f.Add(s.Encode())
	}
	f.Add([]byte{})
	check := func(t *testing.T, data []byte) {
		s, err := filedict.DecodeSnapshot(data)
		if err != nil {
			if !errors.Is(err, filedict.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := s.Encode(); !bytes.Equal(again, data) {
			t.Fatalf("snapshot of %d entries re-encodes to %x, input %x", len(s.Entries), again, data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		// Again with a length and checksum that match the bytes after them,
		// so the body parser sees every input.
		if len(data) >= 12 {
			framed := bytes.Clone(data)
			binary.BigEndian.PutUint64(framed, uint64(len(framed)-12))
			c := crc32.Update(0, castagnoli, framed[:8])
			binary.BigEndian.PutUint32(framed[8:], crc32.Update(c, castagnoli, framed[12:]))
			check(t, framed)
		}
	})
}

// fdRecords are records of every type.
func fdRecords() []filedict.Record {
	fresh := fdEntry(3)
	return []filedict.Record{
		{Type: filedict.RecordInsert, Name: "000123.sst", Entry: fdEntry(1), HasEntry: true},
		{Type: filedict.RecordInsert, Name: "db/wal/000123.log", Entry: fdEntry(2), HasEntry: true},
		{Type: filedict.RecordRenameBegin, Name: "000123.sst", Dst: "000124.sst"},
		{Type: filedict.RecordRenameBegin, Name: "db/wal/000123.log", Dst: "db/wal/000125.log", Entry: fresh, HasEntry: true},
		{Type: filedict.RecordRenameCommit, Name: "000123.sst", Dst: "000124.sst"},
		{Type: filedict.RecordRenameAbort, Name: "db/wal/000123.log", Dst: "db/wal/000125.log"},
		{Type: filedict.RecordRemove, Name: "000124.sst"},
		{Type: filedict.RecordRemovePrefix, Name: "db/wal"},
	}
}

// FuzzFileDictGroup feeds arbitrary bytes to the group-frame decoder: no
// panic, and a group it accepts re-encodes to exactly the bytes it
// consumed.
func FuzzFileDictGroup(f *testing.F) {
	recs := fdRecords()
	for i := range recs {
		b := filedict.EncodeGroup(recs[:i+1])
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), b...))
	}
	f.Add(recs[0].Encode())
	f.Add([]byte{})
	check := func(t *testing.T, data []byte) {
		recs, n, err := filedict.DecodeGroup(data)
		if err != nil {
			if !errors.Is(err, filedict.ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if n > len(data) || len(recs) == 0 || !bytes.Equal(filedict.EncodeGroup(recs), data[:n]) {
			t.Fatalf("%d records (%d bytes) re-encode to %x, input %x", len(recs), n, filedict.EncodeGroup(recs), data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		// The same bytes as the payload of a group frame whose length,
		// type and checksum hold, so the payload parser sees every input.
		check(t, groupFrame(data))
	})
}

// groupFrame wraps payload in a group frame with a valid header.
func groupFrame(payload []byte) []byte {
	b := append([]byte{0, 0, 0, 0, 0, 0, 0, 0, byte(filedict.RecordGroup)}, payload...)
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

// FuzzFileDictLog puts arbitrary bytes after a valid header and snapshot
// (a version-3 file, and as the log of a version-2 one): decoding the
// whole file never panics, and either fails with ErrCorrupt or finds a
// valid log up to End, then zeros or a torn tail that it describes
// consistently. Cutting the file at End decodes to the same state with
// nothing left to drop.
func FuzzFileDictLog(f *testing.F) {
	recs := fdRecords()
	var log []byte
	for i := range recs {
		log = append(log, filedict.EncodeGroup(recs[i:i+1])...)
	}
	f.Add(uint8(3), log)
	f.Add(uint8(3), log[:len(log)-3])
	f.Add(uint8(3), append(bytes.Clone(log), make([]byte, 100)...))
	f.Add(uint8(3), filedict.EncodeGroup(recs))
	torn := bytes.Clone(log)
	clear(torn[len(torn)-40 : len(torn)-20])
	f.Add(uint8(3), torn)
	var v2 []byte
	for _, r := range recs {
		v2 = append(v2, r.Encode()...)
	}
	f.Add(uint8(2), v2)
	f.Add(uint8(2), v2[:len(v2)-5])
	f.Add(uint8(3), []byte{})
	snap := (&filedict.Snapshot{Entries: map[string]filedict.Entry{"000001.sst": fdEntry(7), "db": fdEntry(8)}}).Encode()
	f.Fuzz(func(t *testing.T, version uint8, rest []byte) {
		v := 2 + int(version%2)
		data := append(append(filedict.Header{Version: v}.Encode(), snap...), rest...)
		checkLog(t, data)
		if v == 3 {
			// The bytes as one more group after a valid one: the group's
			// framing holds, so they are applied or are corruption.
			first := filedict.EncodeGroup(recs[:1])
			data = append(append(append(filedict.Header{Version: v}.Encode(), snap...), first...), groupFrame(rest)...)
			c := checkLog(t, data)
			if c != nil && c.End != int64(len(data)) && len(rest) > 0 {
				t.Fatalf("a valid group frame ends the log at %d of %d", c.End, len(data))
			}
		}
	})
}

// checkLog decodes a whole file and checks what it finds; it returns nil
// when the file is corrupt.
func checkLog(t *testing.T, data []byte) *filedict.Contents {
	c, err := filedict.Decode(data)
	if err != nil {
		if !errors.Is(err, filedict.ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return nil
	}
	tail := c.Tail
	last := len(data)
	for last > int(c.End) && data[last-1] == 0 {
		last--
	}
	if c.End > int64(len(data)) || tail.Offset != c.End || tail.Bytes != int64(last)-c.End {
		t.Fatalf("end %d of %d bytes, tail at %d of %d bytes (non-zero to %d)", c.End, len(data), tail.Offset, tail.Bytes, last)
	}
	for _, r := range tail.Records {
		if r.Offset < tail.Offset || r.Offset >= tail.Offset+tail.Bytes {
			t.Fatalf("tail record at %d, outside the tail", r.Offset)
		}
		if b := r.Encode(); r.Verified && !bytes.Equal(b, data[r.Offset:min(int(r.Offset)+len(b), len(data))]) {
			t.Fatalf("verified tail record %+v re-encodes to %x, the file has %x", r.Record, b, data[r.Offset:])
		}
	}
	again, err := filedict.Decode(data[:c.End])
	if err != nil {
		t.Fatalf("the file cut at its end %d: %v", c.End, err)
	}
	if again.End != c.End || again.Tail.Bytes != 0 || again.LogRecords != c.LogRecords ||
		!reflect.DeepEqual(again.State, c.State) {
		t.Fatalf("the file cut at its end %d decodes otherwise: %+v, then %+v", c.End, c, again)
	}
	return c
}
