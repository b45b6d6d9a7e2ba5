package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
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
	for _, v := range []int{1, 2} {
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
