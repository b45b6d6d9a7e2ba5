package filedict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
)

const diskBlock = 4096

func TestGroupRoundTrip(t *testing.T) {
	recs := []Record{
		{Type: RecordInsert, Name: "000123.sst", Entry: entry(1), HasEntry: true},
		{Type: RecordRemove, Name: "db/wal/000001.log"},
		{Type: RecordRenameBegin, Name: "a", Dst: "b", Entry: entry(2), HasEntry: true},
		{Type: RecordRenameCommit, Name: "a", Dst: "b"},
	}
	b := EncodeGroup(recs)
	got, n, err := DecodeGroup(append(bytes.Clone(b), "trailing"...))
	if err != nil || n != len(b) || !reflect.DeepEqual(got, recs) {
		t.Fatalf("DecodeGroup = %+v, %d, %v", got, n, err)
	}
	var payload []byte
	for _, r := range recs {
		payload = append(payload, r.Encode()...)
	}
	if !bytes.Equal(b[recordHeaderSize:], payload) || RecordType(b[8]) != RecordGroup {
		t.Fatal("a group's payload is not its records' encodings")
	}
}

func TestGroupRejects(t *testing.T) {
	ins := Record{Type: RecordInsert, Name: "a", Entry: entry(1), HasEntry: true}.Encode()
	good := EncodeGroup([]Record{{Type: RecordInsert, Name: "a", Entry: entry(1), HasEntry: true}})
	// reframe builds a frame of type typ with a valid checksum around any
	// payload.
	reframe := func(typ RecordType, payload []byte) []byte {
		b := append([]byte{0, 0, 0, 0, 0, 0, 0, 0, byte(typ)}, payload...)
		sealGroup(b)
		return b
	}
	flipped := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x10; return b }
	tooLong := bytes.Clone(good)
	tooLong[4] = 0x01 // payload length 16 MiB + 39
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		want    string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "header cut short"},
		{"short header", good[:8], io.ErrUnexpectedEOF, "header cut short"},
		{"short payload", good[:len(good)-1], io.ErrUnexpectedEOF, "cut short"},
		{"checksum", flipped(0), ErrCorrupt, "checksum"},
		{"type covered by checksum", flipped(8), ErrCorrupt, "checksum"},
		{"payload covered by checksum", flipped(20), ErrCorrupt, "checksum"},
		{"too long", tooLong, ErrCorrupt, "over the 16 MiB cap"},
		{"a record, not a group", ins, ErrCorrupt, "frame of type insert, not a group"},
		{"empty group", reframe(RecordGroup, nil), ErrCorrupt, "empty group"},
		{"record cut short", reframe(RecordGroup, ins[:len(ins)-1]), ErrCorrupt, "record at offset 9: cut short"},
		{"bytes after the records", reframe(RecordGroup, append(bytes.Clone(ins), 0)), ErrCorrupt, "cut short"},
		{"damaged record", reframe(RecordGroup, func() []byte { b := bytes.Clone(ins); b[12] ^= 1; return b }()), ErrCorrupt, "checksum mismatch"},
		{"malformed record", reframe(RecordGroup, Record{Type: RecordRemove, Name: "a\x00"}.Encode()), ErrCorrupt, "NUL"},
		{"group in a group", reframe(RecordGroup, good), ErrCorrupt, "a group frame where a record belongs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, n, err := DecodeGroup(tc.in)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.want) || n != 0 || recs != nil {
				t.Fatalf("got %d, %v; want %v containing %q", n, err, tc.wantErr, tc.want)
			}
		})
	}
}

// commitOps commits ops as one group, as the leader of a group commit
// does, and fails the test if any of them fails.
func commitOps(t testing.TB, d *Dict, recs ...[]Record) {
	t.Helper()
	ops := make([]*op, len(recs))
	for i, r := range recs {
		ops[i] = &op{recs: r}
	}
	d.wmu.Lock()
	d.commit(ops)
	d.wmu.Unlock()
	for i, o := range ops {
		if o.err != nil {
			t.Fatalf("op %d: %v", i, o.err)
		}
	}
}

func insertRec(name string, n int) []Record {
	return []Record{{Type: RecordInsert, Name: name, Entry: entry(n), HasEntry: true}}
}

// blockLog is a dictionary file whose last two groups each span several
// disk blocks.
type blockLog struct {
	data           []byte
	acked, after   dictState // before and after the last group
	earlier        [2]int    // the span of an acknowledged multi-block group
	last           [2]int    // the span of the last group
	lastRecs       []Record  // the records of the last group
	lastRecOffsets []int
}

// buildBlockLog writes a dictionary whose snapshot holds snapNames
// entries (so the log starts at an offset that depends on it), then
// acknowledged groups, one of them spanning several blocks, then a last
// group of long names spanning several blocks.
func buildBlockLog(t *testing.T, snapNames int) blockLog {
	t.Helper()
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	for i := range snapNames {
		must(t, d.Insert(fmt.Sprintf("snap/%0*d", 5+i, i), entry(i)))
	}
	must(t, d.Compact())
	long := func(tag string, i int) string {
		return fmt.Sprintf("%s/%s/%04d", tag, strings.Repeat("n", 2600+97*i), i)
	}
	must(t, d.Insert("small/1", entry(101)))
	must(t, d.Insert("small/2", entry(102)))
	var bl blockLog
	bl.earlier[0] = int(d.Stats().FileSize)
	commitOps(t, d, insertRec(long("early", 0), 1), insertRec(long("early", 1), 2), insertRec(long("early", 2), 3),
		[]Record{{Type: RecordRemove, Name: "small/1"}}, insertRec(long("early", 3), 4))
	bl.earlier[1] = int(d.Stats().FileSize)
	must(t, d.Insert("small/3", entry(103)))
	must(t, d.BeginRename(Rename{Src: "small/2", Dst: "small/4"}))
	bl.acked = stateOf(d)
	bl.last[0] = int(d.Stats().FileSize)
	ops := [][]Record{
		insertRec(long("last", 0), 10),
		{{Type: RecordRemove, Name: long("early", 1)}, {Type: RecordRemove, Name: "small/3"}},
		insertRec(long("last", 1), 11),
		{{Type: RecordRenameCommit, Name: "small/2", Dst: "small/4"}},
		insertRec(long("last", 2), 12),
		{{Type: RecordRemovePrefix, Name: "early"}},
		insertRec(long("last", 3), 13),
		insertRec(long("last", 4), 14),
	}
	commitOps(t, d, ops...)
	bl.last[1] = int(d.Stats().FileSize)
	bl.after = stateOf(d)
	mustClose(t, d)
	data, err := os.ReadFile(path)
	must(t, err)
	bl.data = data
	_, offs := logFrames(t, data)
	if offs[len(offs)-1] != bl.last[0] || len(data) != bl.last[1] {
		t.Fatalf("groups at %v, file of %d bytes; the last group should span %v", offs, len(data), bl.last)
	}
	recs, _, err := DecodeGroup(data[bl.last[0]:])
	must(t, err)
	bl.lastRecs = recs
	off := bl.last[0] + recordHeaderSize
	for _, r := range recs {
		bl.lastRecOffsets = append(bl.lastRecOffsets, off)
		off += len(r.Encode())
	}
	return bl
}

// blocksOf returns the first and last disk block that [span[0], span[1])
// touches.
func blocksOf(span [2]int) (first, last int) { return span[0] / diskBlock, (span[1] - 1) / diskBlock }

// lose returns data as if the blocks of span not in kept had not been
// written: their bytes from span[0] on hold what was there before (zeros,
// or garbage from rng when it is not nil, to the block's end), the rest of
// data and the zeros ahead of the log (up to a block past the end) as
// written.
func lose(data []byte, span [2]int, kept uint, rng *rand.Rand) []byte {
	size := (len(data)/diskBlock + 2) * diskBlock
	img := make([]byte, size)
	copy(img, data)
	first, last := blocksOf(span)
	for b := first; b <= last; b++ {
		if kept&(1<<(b-first)) != 0 {
			continue
		}
		from, to := max(span[0], b*diskBlock), min(span[1], (b+1)*diskBlock)
		if rng == nil {
			clear(img[from:to])
			continue
		}
		for i := from; i < (b+1)*diskBlock; i++ {
			img[i] = byte(rng.Uint32())
		}
	}
	return img
}

// TestTornBlocks writes a last group that spans several disk blocks and
// lets every subset of those blocks reach the disk, the others keeping the
// zeros written ahead of the log (or garbage, as a file system without
// that preallocation could leave): Open drops the group and keeps exactly
// the acknowledged groups, and DroppedTail reports the bytes and every
// record that survived whole. Damage of the same kind to an earlier group,
// with a valid group after it, is ErrCorrupt naming the damaged group.
func TestTornBlocks(t *testing.T) {
	snaps := []int{3, 17, 40}
	if testing.Short() {
		snaps = snaps[:1]
	}
	for _, snap := range snaps {
		t.Run(fmt.Sprintf("snapshot%d", snap), func(t *testing.T) {
			bl := buildBlockLog(t, snap)
			first, last := blocksOf(bl.last)
			n := last - first + 1
			if n < 4 || bl.last[0]%diskBlock == 0 {
				t.Fatalf("last group at %v spans %d blocks: make it longer", bl.last, n)
			}
			t.Logf("log at %d, last group %v over %d blocks", bl.earlier[0], bl.last, n)
			for _, garbage := range []bool{false, true} {
				for kept := uint(0); kept < 1<<n; kept++ {
					var rng *rand.Rand
					if garbage {
						rng = rand.New(rand.NewPCG(uint64(snap), uint64(kept)))
					}
					img := lose(bl.data, bl.last, kept, rng)
					name := fmt.Sprintf("garbage=%v, blocks kept %0*b", garbage, n, kept)
					if kept == 1<<n-1 {
						d, _ := openDropped(t, img, bl.last[1], bl.after)
						mustClose(t, d)
						continue
					}
					d, path := openDropped(t, img, bl.last[0], bl.acked)
					checkTornRecords(t, name, bl, img, d.DroppedTail(), !garbage)
					// The log goes on after the dropped group.
					must(t, d.Insert("later", entry(7)))
					mustClose(t, d)
					d = mustOpen(t, path, Options{})
					if e, ok := d.Get("later"); !ok || e != entry(7) || d.Len() != len(bl.acked.Entries)+1 {
						t.Fatalf("%s: reopen after an insert: %d entries", name, d.Len())
					}
					mustClose(t, d)
				}
			}
			// An acknowledged group damaged the same way, with valid groups
			// after it, is corruption.
			first, last = blocksOf(bl.earlier)
			n = last - first + 1
			if n < 3 {
				t.Fatalf("earlier group at %v spans %d blocks: make it longer", bl.earlier, n)
			}
			for kept := uint(0); kept < 1<<n-1; kept++ {
				img := lose(bl.data, bl.earlier, kept, nil)
				_, err := Decode(img)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("group at offset %d", bl.earlier[0])) {
					t.Fatalf("earlier group, blocks kept %0*b: %v", n, kept, err)
				}
				if _, _, err := openBytes(t, img); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("earlier group, blocks kept %0*b: Open: %v", n, kept, err)
				}
			}
		})
	}
}

// checkTornRecords checks the records a tail reports against the last
// group's: each verified one is a record of the group at its offset, and
// each record of the group whose bytes all survived is reported verified.
// With exact, each unverified one is at a record's offset with its type.
func checkTornRecords(t *testing.T, name string, bl blockLog, img []byte, tail Tail, exact bool) {
	t.Helper()
	at := map[int64]int{}
	for i, off := range bl.lastRecOffsets {
		at[int64(off)] = i
	}
	reported := map[int]bool{}
	for _, r := range tail.Records {
		i, ok := at[r.Offset]
		switch {
		case r.Verified && (!ok || !reflect.DeepEqual(r.Record, bl.lastRecs[i])):
			t.Fatalf("%s: verified record at %d is %+v, not one of the group's", name, r.Offset, r.Record)
		case !r.Verified && exact && (!ok || r.Type != bl.lastRecs[i].Type):
			t.Fatalf("%s: unverified %s record at %d, not at one of the group's", name, r.Type, r.Offset)
		case r.Verified:
			reported[i] = true
		}
	}
	for i, off := range bl.lastRecOffsets {
		end := off + len(bl.lastRecs[i].Encode())
		if bytes.Equal(img[off:end], bl.data[off:end]) && !reported[i] {
			t.Fatalf("%s: record %d (%s at %d) survived whole but is not reported: %+v", name, i, bl.lastRecs[i].Type, off, tail.Records)
		}
	}
}

// TestFlippedBitLastGroup flips one bit in the last record of the last
// group: the group is dropped as torn (the file cannot tell that from
// damage to an acknowledged group), and DroppedTail reports the group's
// other records as verified and the damaged one as parsed, so the owner
// can tell.
func TestFlippedBitLastGroup(t *testing.T) {
	bl := buildBlockLog(t, 5)
	k := len(bl.lastRecs) - 1
	r0 := bl.lastRecOffsets[k]
	rec := bl.lastRecs[k]
	if rec.Type != RecordInsert {
		t.Fatalf("the last record is a %s", rec.Type)
	}
	nameAt := r0 + recordHeaderSize + 2
	for i := r0; i < bl.last[1]; i++ {
		for _, bit := range []byte{0x01, 0x10, 0x80} {
			img := bytes.Clone(bl.data)
			img[i] ^= bit
			tail := decodeDropped(t, img, bl.last[0], bl.acked).Tail
			if bit == 0x10 && (i == r0 || i == nameAt+5 || i == bl.last[1]-1) {
				d, _ := openDropped(t, img, bl.last[0], bl.acked)
				mustClose(t, d)
			}
			if tail.Bytes != nonZeroLen(img[bl.last[0]:]) {
				t.Fatalf("byte %d ^ %#x: tail of %d bytes", i-r0, bit, tail.Bytes)
			}
			var want []TailRecord
			for j := range k {
				want = append(want, TailRecord{Record: bl.lastRecs[j], Offset: int64(bl.lastRecOffsets[j]), Verified: true})
			}
			// The record's fields as they now read, unless the flip hit
			// the type or the name's length, which the parse relies on.
			damaged := rec
			switch {
			case i == r0+8 || i == nameAt-2 || i == nameAt-1:
				damaged.Type = 0
			case i >= nameAt && i < nameAt+len(rec.Name):
				damaged.Name = string(img[nameAt : nameAt+len(rec.Name)])
			case i >= nameAt+len(rec.Name):
				damaged.Entry = decodeEntry(img[nameAt+len(rec.Name):])
			}
			if damaged.Type != 0 && damaged.Entry.Method != 0 {
				want = append(want, TailRecord{Record: damaged, Offset: int64(r0)})
			}
			got := tail.Records
			if damaged.Type == 0 && len(got) > k {
				got = got[:k] // whatever the damaged bytes parse as
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("byte %d ^ %#x: records\n got %+v\nwant %+v", i-r0, bit, got, want)
			}
		}
	}
}

// TestReadVersion2 opens version-2 files: the state is kept, the file is
// rewritten as version 3, and a dropped torn record is reported.
func TestReadVersion2(t *testing.T) {
	data, states := buildLog(t, lastRecords[0].do)
	v2 := toV2(t, data)
	d, path := openDropped(t, v2, len(v2), states[len(states)-1])
	if st := d.Stats(); st.Version != 3 || st.LogRecords != 0 {
		t.Fatalf("stats after opening a version-2 file: %+v", st)
	}
	must(t, d.Insert("after", entry(9)))
	mustClose(t, d)
	rewritten, err := os.ReadFile(path)
	must(t, err)
	if _, offs := logFrames(t, rewritten); len(offs) != 1 {
		t.Fatalf("the rewritten file holds %d groups, want the new insert's", len(offs))
	}
	// Options.Version 2 asks for the log format, version 3.
	d = mustOpen(t, path, Options{Version: 2})
	if st := d.Stats(); st.Version != 3 {
		t.Fatalf("Options.Version 2 writes version %d", st.Version)
	}
	mustClose(t, d)
	if v, err := ReadVersion(path); v != 3 || err != nil {
		t.Fatalf("ReadVersion = %d, %v", v, err)
	}
	// A torn version-2 record is reported: here its checksum.
	_, offs := logFrames(t, v2)
	lastOff := offs[len(offs)-1]
	torn := bytes.Clone(v2)
	torn[lastOff] ^= 0x40
	d, _ = openDropped(t, torn, lastOff, states[len(states)-2])
	want := Tail{Offset: int64(lastOff), Bytes: int64(len(v2) - lastOff), Records: []TailRecord{
		{Record: Record{Type: RecordInsert, Name: "db/wal/000007.log", Entry: entry(7), HasEntry: true}, Offset: int64(lastOff)},
	}}
	if got := d.DroppedTail(); !reflect.DeepEqual(got, want) {
		t.Fatalf("DroppedTail\n got %+v\nwant %+v", got, want)
	}
	mustClose(t, d)
}

// TestGroupLimit lowers the cap on a group's payload: a commit whose
// records exceed it is written as several groups, each synced before the
// next, splitting between ops unless one op alone exceeds the cap.
func TestGroupLimit(t *testing.T) {
	ffs := &faultFS{}
	var syncs []int64 // the file's content length at each sync
	path := dictPath(t)
	var d *Dict
	d = mustCreate(t, path, Options{FS: ffs, Failpoint: func(name string) {
		if name == "append.after-sync" {
			data, err := os.ReadFile(path)
			must(t, err)
			ld, err := load(data, maxVersion)
			must(t, err)
			syncs = append(syncs, ld.end)
		}
	}})
	d.groupMax = 200
	name := func(i int) string { return fmt.Sprintf("f/%02d/%s", i, strings.Repeat("x", 40)) }
	ins, rm := func(i int) []Record { return insertRec(name(i), i) }, func(i int) Record { return Record{Type: RecordRemove, Name: name(i)} }
	var ops [][]Record
	for i := range 10 {
		ops = append(ops, ins(i))
	}
	commitOps(t, d, ops...)
	// RemoveMany ops of 3 and 2 records, then one of 5 that alone exceeds
	// the cap.
	commitOps(t, d, ins(10), ins(11), []Record{rm(0), rm(1), rm(2)}, []Record{rm(3), rm(4)})
	commitOps(t, d, ins(12), []Record{rm(5), rm(6), rm(7), rm(8), rm(9)})
	mustClose(t, d)
	data, err := os.ReadFile(path)
	must(t, err)
	_, offs := logFrames(t, data)
	var sizes [][]int
	var ends []int64
	for _, off := range offs {
		recs, n, err := DecodeGroup(data[off:])
		must(t, err)
		if n-recordHeaderSize > d.groupMax {
			t.Fatalf("group at %d of %d bytes", off, n)
		}
		var rs []int
		for _, r := range recs {
			rs = append(rs, len(r.Encode()))
		}
		sizes = append(sizes, rs)
		ends = append(ends, int64(off+n))
	}
	// Two inserts fit in a group, three removes do.
	I, R := len(ins(0)[0].Encode()), len(rm(0).Encode())
	if 2*I > d.groupMax || 3*I <= d.groupMax || 3*R > d.groupMax || 4*R <= d.groupMax || 2*I+3*R <= d.groupMax {
		t.Fatalf("records of %d and %d bytes do not fit the test", I, R)
	}
	wantSizes := [][]int{{I, I}, {I, I}, {I, I}, {I, I}, {I, I}, {I, I}, {R, R, R}, {R, R}, {I}, {R, R, R}, {R, R}}
	if !reflect.DeepEqual(sizes, wantSizes) {
		t.Fatalf("groups of records of %v bytes, want %v", sizes, wantSizes)
	}
	if !reflect.DeepEqual(syncs, ends) {
		t.Fatalf("synced at %v, groups end at %v: not one sync a group", syncs, ends)
	}
	d = mustOpen(t, path, Options{})
	mustState(t, d, dictState{Entries: map[string]Entry{name(10): entry(10), name(11): entry(11), name(12): entry(12)}})
	mustClose(t, d)
}
