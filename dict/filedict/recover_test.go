package filedict

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// buildLog writes a dictionary whose log ends with last, one group per
// operation, and returns its bytes and the state before and after each
// operation.
func buildLog(t *testing.T, last func(d *Dict) error) (data []byte, states []dictState) {
	t.Helper()
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	ops := []func(d *Dict) error{
		func(d *Dict) error { return d.Insert("000001.sst", entry(1)) },
		func(d *Dict) error { return d.Insert("db/wal/000002.log", entry(2)) },
		func(d *Dict) error { return d.Insert("db/wal/000003.log", entry(3)) },
		func(d *Dict) error { return d.BeginRename(Rename{Src: "000001.sst", Dst: "000004.sst"}) },
		func(d *Dict) error { return d.Insert("000005.sst", entry(5)) },
		func(d *Dict) error { return d.Remove("000005.sst") },
		func(d *Dict) error { return d.Insert("000006.sst", entry(6)) },
		last,
	}
	states = append(states, stateOf(d))
	for i, f := range ops {
		if err := f(d); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		states = append(states, stateOf(d))
	}
	mustClose(t, d)
	data, err := os.ReadFile(path)
	must(t, err)
	if _, offs := logFrames(t, data); len(offs) != len(ops) {
		t.Fatalf("%d groups for %d ops", len(offs), len(ops))
	}
	return data, states
}

var lastRecords = []struct {
	name string
	do   func(d *Dict) error
}{
	{"insert", func(d *Dict) error { return d.Insert("db/wal/000007.log", entry(7)) }},
	{"remove", func(d *Dict) error { return d.Remove("db/wal/000002.log") }},
	{"remove-prefix", func(d *Dict) error { return d.RemovePrefix("db/wal") }},
	{"rename-begin", func(d *Dict) error { return d.BeginRename(Rename{Src: "a", Dst: "b"}) }},
	{"rename-begin-fresh", func(d *Dict) error {
		return d.BeginRename(Rename{Src: "000006.sst", Dst: "000008.sst", Fresh: entryPtr(8)})
	}},
	{"rename-commit", func(d *Dict) error { return d.CommitRename("000001.sst", "000004.sst") }},
	{"rename-abort", func(d *Dict) error { return d.AbortRename("000001.sst", "000004.sst") }},
}

// openBytes writes data to a fresh file and opens it.
func openBytes(t *testing.T, data []byte) (*Dict, string, error) {
	t.Helper()
	path := dictPath(t)
	must(t, os.WriteFile(path, data, 0o600))
	d, err := Open(path, Options{})
	return d, path, err
}

// TestTornTail cuts the file at every byte inside the last group (version
// 3) or record (version 2): Open drops it, truncates the file before it,
// reports the bytes it dropped and keeps everything else.
func TestTornTail(t *testing.T) {
	for _, v := range logVersions {
		for _, tc := range lastRecords {
			t.Run(fmt.Sprintf("v%d/%s", v, tc.name), func(t *testing.T) {
				data, states := buildLog(t, tc.do)
				data = inVersion(t, data, v)
				_, offs := logFrames(t, data)
				lastOff := offs[len(offs)-1]
				before, after := states[len(states)-2], states[len(states)-1]
				for cut := lastOff; cut < len(data); cut++ {
					d, path := openDropped(t, data[:cut], lastOff, before)
					if tail := d.DroppedTail(); len(tail.Records) != 0 {
						t.Fatalf("cut at %d: a record cut short is reported: %+v", cut, tail.Records)
					}
					// The log goes on cleanly after the cut.
					must(t, d.Insert("later", entry(42)))
					mustClose(t, d)
					d = mustOpen(t, path, Options{})
					want := dictState{Entries: map[string]Entry{"later": entry(42)}, Pending: before.Pending}
					for n, e := range before.Entries {
						want.Entries[n] = e
					}
					mustState(t, d, want)
					if tail := d.DroppedTail(); tail.Bytes != 0 {
						t.Fatalf("cut at %d: reopen reports a tail %+v", cut, tail)
					}
					mustClose(t, d)
				}
				// The whole file opens to the state after every record.
				d, _ := openDropped(t, data, len(data), after)
				mustClose(t, d)
			})
		}
	}
}

// TestZeroTail covers the zeros a writer keeps after the log and file
// systems that leave zeros after a crash: a complete log followed by
// zeros, and the last group or record cut anywhere followed by zeros.
func TestZeroTail(t *testing.T) {
	for _, v := range logVersions {
		for _, tc := range lastRecords {
			t.Run(fmt.Sprintf("v%d/%s", v, tc.name), func(t *testing.T) {
				data, states := buildLog(t, tc.do)
				data = inVersion(t, data, v)
				_, offs := logFrames(t, data)
				lastOff := offs[len(offs)-1]
				zeros := make([]byte, 4096)
				d, _ := openDropped(t, append(bytes.Clone(data), zeros...), len(data), states[len(states)-1])
				mustClose(t, d)
				for cut := lastOff + 1; cut < len(data); cut++ {
					torn := append(bytes.Clone(data[:cut]), zeros...)
					// Usually the last one is dropped; when the cut only lost
					// bytes that were zero anyway, it is whole again.
					end, want := lastOff, states[len(states)-2]
					if bytes.Equal(torn[:len(data)], data) {
						end, want = len(data), states[len(states)-1]
					}
					d, _ := openDropped(t, torn, end, want)
					mustClose(t, d)
				}
			})
		}
	}
}

// TestCorruptMiddle flips bits in every byte of a group (version 3) or
// record (version 2) that has another after it: always ErrCorrupt naming
// its offset, never a panic or a silent drop.
func TestCorruptMiddle(t *testing.T) {
	for _, v := range logVersions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			data, _ := buildLog(t, lastRecords[0].do)
			data = inVersion(t, data, v)
			_, offs := logFrames(t, data)
			for _, idx := range []int{0, len(offs) / 2, len(offs) - 2} {
				start, end := offs[idx], offs[idx+1]
				for i := start; i < end; i++ {
					for _, bit := range []byte{0x01, 0x80} {
						bad := bytes.Clone(data)
						bad[i] ^= bit
						_, _, err := openBytes(t, bad)
						if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", start)) {
							t.Fatalf("frame %d, byte %d ^ %#x: %v", idx, i-start, bit, err)
						}
					}
				}
			}
			// Also with zeros after the log: the damage is still in the
			// middle.
			bad := append(bytes.Clone(data), make([]byte, 512)...)
			bad[offs[1]+10] ^= 4
			if _, _, err := openBytes(t, bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("damage before a zero tail: %v", err)
			}
		})
	}
}

// TestCorruptHeaderAndSnapshot flips bits in the header and the snapshot,
// which are never torn.
func TestCorruptHeaderAndSnapshot(t *testing.T) {
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	must(t, d.Insert("a", entry(1)))
	must(t, d.BeginRename(Rename{Src: "a", Dst: "b", Fresh: entryPtr(2)}))
	must(t, d.Compact())
	must(t, d.Insert("c", entry(3)))
	mustClose(t, d)
	data, _ := os.ReadFile(path)
	logStart, _ := logFrames(t, data)
	for i := range logStart {
		bad := bytes.Clone(data)
		bad[i] ^= 0x02
		_, _, err := openBytes(t, bad)
		if i == 4 {
			if !errors.Is(err, ErrUnknownVersion) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("version byte: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	// A version-1 file with bytes after its snapshot.
	d = mustOpen(t, path, Options{Version: 1})
	mustClose(t, d)
	data, _ = os.ReadFile(path)
	if _, _, err := openBytes(t, append(data, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte after a version-1 snapshot: %v", err)
	}
}

// TestLastChecksumFlipDropped flips a bit in the frame of the last group
// or record: it is dropped as torn, and the tail reports its bytes.
func TestLastChecksumFlipDropped(t *testing.T) {
	for _, v := range logVersions {
		data, states := buildLog(t, lastRecords[0].do)
		data = inVersion(t, data, v)
		_, offs := logFrames(t, data)
		lastOff := offs[len(offs)-1]
		for _, i := range []int{lastOff, lastOff + 3, lastOff + 5, lastOff + 8, len(data) - 1} {
			bad := bytes.Clone(data)
			bad[i] ^= 0x01
			d, _ := openDropped(t, bad, lastOff, states[len(states)-2])
			if tail := d.DroppedTail(); tail.Bytes != int64(len(data)-lastOff) || len(tail.Records) == 0 && i != lastOff+8 {
				t.Fatalf("v%d, byte %d of the last frame: tail %+v", v, i-lastOff, tail)
			}
			mustClose(t, d)
		}
	}
}

// TestFailedAppend makes one append's write or fsync fail: the operation
// fails, memory is unchanged, the next one succeeds after the file is
// rewritten, and a reopen shows exactly the operations that succeeded.
func TestFailedAppend(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *faultFS)
	}{
		{"write fails", func(f *faultFS) { f.failWrites = 1 }},
		{"write torn", func(f *faultFS) { f.failWrites, f.partial = 1, true }},
		{"fsync fails", func(f *faultFS) { f.failSyncs = 1 }},
	}
	ops := []struct {
		name string
		do   func(d *Dict) error
	}{
		{"insert", func(d *Dict) error { return d.Insert("c", entry(3)) }},
		{"overwrite", func(d *Dict) error { return d.Insert("a", entry(9)) }},
		{"remove", func(d *Dict) error { return d.Remove("b") }},
		{"remove-prefix", func(d *Dict) error { return d.RemovePrefix("a") }},
		{"rename", func(d *Dict) error { return d.BeginRename(Rename{Src: "a", Dst: "z"}) }},
	}
	for _, tc := range tests {
		for _, op := range ops {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				ffs := &faultFS{}
				path := dictPath(t)
				d := mustCreate(t, path, Options{FS: ffs})
				must(t, d.Insert("a", entry(1)))
				must(t, d.Insert("b", entry(2)))
				want := stateOf(d)
				tc.inject(ffs)
				if err := op.do(d); !errors.Is(err, errInjected) {
					t.Fatalf("failed append returned %v", err)
				}
				mustState(t, d, want)
				must(t, d.Insert("d", entry(4)))
				want.Entries["d"] = entry(4)
				mustState(t, d, want)
				must(t, d.Insert("e", entry(5)))
				want.Entries["e"] = entry(5)
				mustClose(t, d)

				data, err := os.ReadFile(path)
				must(t, err)
				ld, err := load(data, maxVersion)
				must(t, err)
				if ld.torn || ld.end != int64(len(data)) {
					t.Fatalf("a torn record is left in the log (valid up to %d of %d)", ld.end, len(data))
				}
				d = mustOpen(t, path, Options{})
				mustState(t, d, want)
				mustClose(t, d)
			})
		}
	}
}

// TestBroken makes the repair after a failed append fail too: the Dict
// answers ErrBroken from then on, and a reopen recovers the state of the
// operations that succeeded.
func TestBroken(t *testing.T) {
	ffs := &faultFS{}
	path := dictPath(t)
	d := mustCreate(t, path, Options{FS: ffs})
	must(t, d.Insert("a", entry(1)))
	want := stateOf(d)
	ffs.failWrites, ffs.partial = 1, true
	if err := d.Insert("b", entry(2)); !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	ffs.failCreates = 1
	for i := range 3 {
		if err := d.Insert("c", entry(3)); !errors.Is(err, ErrBroken) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if err := d.Compact(); !errors.Is(err, ErrBroken) {
		t.Fatalf("Compact on a broken Dict: %v", err)
	}
	mustState(t, d, want)
	if err := d.Close(); err != nil {
		t.Fatalf("Close of a broken Dict: %v", err)
	}
	d = mustOpen(t, path, Options{})
	mustState(t, d, want)
	mustClose(t, d)
}

// TestFailedRewrite covers version 1, where every change is a rewrite, and
// a failed compaction in version 3.
func TestFailedRewrite(t *testing.T) {
	for _, v := range versions {
		ffs := &faultFS{}
		path := dictPath(t)
		d := mustCreate(t, path, Options{Version: v, FS: ffs})
		must(t, d.Insert("a", entry(1)))
		want := stateOf(d)
		ffs.failCreates = 1
		var err error
		if v == 1 {
			err = d.Insert("b", entry(2))
		} else {
			err = d.Compact()
		}
		if !errors.Is(err, errInjected) {
			t.Fatalf("v%d: %v", v, err)
		}
		mustState(t, d, want)
		must(t, d.Insert("c", entry(3)))
		want.Entries["c"] = entry(3)
		mustClose(t, d)
		d = mustOpen(t, path, Options{Version: v})
		mustState(t, d, want)
		mustClose(t, d)
	}
}

// TestGroupCommit runs many goroutines of Inserts and Removes and checks
// that they share fsyncs and that every acknowledged change is on disk.
func TestGroupCommit(t *testing.T) {
	const workers = 16
	perWorker := 60
	if testing.Short() {
		perWorker = 30
	}
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ffs := &faultFS{}
			path := dictPath(t)
			d := mustCreate(t, path, Options{Version: v, RewriteThreshold: 100, FS: ffs})
			syncs0 := ffs.syncs.Load()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						n := fmt.Sprintf("w%02d/%03d", w, i)
						if err := d.Insert(n, entry(i)); err != nil {
							t.Error(err)
							return
						}
						if i%2 == 1 {
							if err := d.Remove(n); err != nil {
								t.Error(err)
								return
							}
						}
						if e, ok := d.Get(n); ok != (i%2 == 0) || (ok && e != entry(i)) {
							t.Errorf("%s reads back %v, %v", n, e, ok)
						}
					}
				})
			}
			wg.Wait()
			ops := workers * (perWorker + perWorker/2)
			syncs := ffs.syncs.Load() - syncs0
			t.Logf("v%d: %d operations, %d fsyncs", v, ops, syncs)
			if syncs >= int64(ops) {
				t.Fatalf("%d fsyncs for %d operations: no group commit", syncs, ops)
			}
			want := dictState{Entries: map[string]Entry{}}
			for w := range workers {
				for i := 0; i < perWorker; i += 2 {
					want.Entries[fmt.Sprintf("w%02d/%03d", w, i)] = entry(i)
				}
			}
			mustState(t, d, want)
			mustClose(t, d)
			d = mustOpen(t, path, Options{Version: v})
			mustState(t, d, want)
			mustClose(t, d)
		})
	}
}

// TestBatchValidation puts conflicting operations into one group: each is
// judged against the ones before it in the group.
func TestBatchValidation(t *testing.T) {
	d := mustCreate(t, dictPath(t), Options{})
	defer d.Close()
	must(t, d.Insert("s", entry(1)))
	ops := []*op{
		{recs: []Record{{Type: RecordRenameBegin, Name: "s", Dst: "d"}}},
		{recs: []Record{{Type: RecordRenameBegin, Name: "x", Dst: "d"}}}, // d already pending in this group
		{recs: []Record{{Type: RecordRenameCommit, Name: "s", Dst: "d"}}},
		{recs: []Record{{Type: RecordRemove, Name: "s"}}}, // removed by the commit
		{recs: []Record{{Type: RecordInsert, Name: "n", Entry: entry(2), HasEntry: true}}},
		{recs: []Record{{Type: RecordRemovePrefix, Name: "n"}}},
	}
	d.wmu.Lock()
	d.commit(ops)
	d.wmu.Unlock()
	if ops[0].err != nil || !errors.Is(ops[1].err, os.ErrExist) || ops[2].err != nil || ops[3].err != nil || ops[4].err != nil || ops[5].err != nil {
		t.Fatalf("errors %v %v %v %v %v %v", ops[0].err, ops[1].err, ops[2].err, ops[3].err, ops[4].err, ops[5].err)
	}
	mustState(t, d, dictState{Entries: map[string]Entry{"d": entry(1)}})
	if st := d.Stats(); st.LogRecords != 1+4 {
		t.Fatalf("%d log records, want 5 (the no-op remove is not written)", st.LogRecords)
	}
}
