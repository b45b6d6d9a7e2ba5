package filedict

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

// versions are the versions a Dict writes.
var versions = []int{1, logVersion}

func TestCreateOpenErrors(t *testing.T) {
	path := dictPath(t)
	if _, err := Open(path, Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v", err)
	}
	mustClose(t, mustCreate(t, path, Options{}))
	if _, err := Create(path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	for _, o := range []Options{{Version: 4}, {Version: -1}} {
		if _, err := Open(path, o); !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), fmt.Sprintf("unknown version %d", o.Version)) {
			t.Fatalf("Options.Version %d: %v", o.Version, err)
		}
	}
	if _, err := Open(path, Options{RewriteThreshold: -1}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("negative threshold: %v", err)
	}
	if err := os.WriteFile(path, []byte("not a dictionary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a foreign file: %v", err)
	}
}

// TestOperations runs every operation on both versions and checks the
// state after each step, in memory and after a reopen.
func TestOperations(t *testing.T) {
	type step struct {
		name string
		do   func(d *Dict) error
		want dictState
	}
	e1, e2, e3, e4 := entry(1), entry(2), entry(3), entry(4)
	steps := []step{
		{"insert", func(d *Dict) error { return d.Insert("a.sst", e1) },
			dictState{Entries: map[string]Entry{"a.sst": e1}}},
		{"insert more", func(d *Dict) error {
			for n, e := range map[string]Entry{"db/wal/1.log": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4} {
				if err := d.Insert(n, e); err != nil {
					return err
				}
			}
			return nil
		}, dictState{Entries: map[string]Entry{"a.sst": e1, "db/wal/1.log": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4}}},
		{"overwrite", func(d *Dict) error { return d.Insert("a.sst", e2) },
			dictState{Entries: map[string]Entry{"a.sst": e2, "db/wal/1.log": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4}}},
		{"remove", func(d *Dict) error { return d.Remove("db/wal/1.log") },
			dictState{Entries: map[string]Entry{"a.sst": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4}}},
		{"remove absent", func(d *Dict) error { return d.Remove("nothing") },
			dictState{Entries: map[string]Entry{"a.sst": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4}}},
		{"begin rename", func(d *Dict) error { return d.BeginRename(Rename{Src: "a.sst", Dst: "b.sst"}) },
			dictState{Entries: map[string]Entry{"a.sst": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4}, Pending: []Rename{{Src: "a.sst", Dst: "b.sst"}}}},
		{"begin fresh rename", func(d *Dict) error {
			return d.BeginRename(Rename{Src: "db/wal/2.log", Dst: "db/wal/3.log", Fresh: &e1})
		},
			dictState{Entries: map[string]Entry{"a.sst": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4},
				Pending: []Rename{{Src: "a.sst", Dst: "b.sst"}, {Src: "db/wal/2.log", Dst: "db/wal/3.log", Fresh: &e1}}}},
		{"commit rename", func(d *Dict) error { return d.CommitRename("a.sst", "b.sst") },
			dictState{Entries: map[string]Entry{"b.sst": e2, "db/wal/2.log": e3, "db": e4, "dbx": e4},
				Pending: []Rename{{Src: "db/wal/2.log", Dst: "db/wal/3.log", Fresh: &e1}}}},
		{"commit fresh rename", func(d *Dict) error { return d.CommitRename("db/wal/2.log", "db/wal/3.log") },
			dictState{Entries: map[string]Entry{"b.sst": e2, "db/wal/3.log": e1, "db": e4, "dbx": e4}}},
		{"abort rename", func(d *Dict) error {
			if err := d.BeginRename(Rename{Src: "b.sst", Dst: "c.sst"}); err != nil {
				return err
			}
			return d.AbortRename("b.sst", "c.sst")
		}, dictState{Entries: map[string]Entry{"b.sst": e2, "db/wal/3.log": e1, "db": e4, "dbx": e4}}},
		{"remove prefix", func(d *Dict) error { return d.RemovePrefix("db") },
			dictState{Entries: map[string]Entry{"b.sst": e2, "dbx": e4}}},
		{"remove prefix of nothing", func(d *Dict) error { return d.RemovePrefix("nowhere") },
			dictState{Entries: map[string]Entry{"b.sst": e2, "dbx": e4}}},
		{"pending left for reopen", func(d *Dict) error { return d.BeginRename(Rename{Src: "dbx", Dst: "dby", Fresh: &e3}) },
			dictState{Entries: map[string]Entry{"b.sst": e2, "dbx": e4}, Pending: []Rename{{Src: "dbx", Dst: "dby", Fresh: &e3}}}},
	}
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			path := dictPath(t)
			d := mustCreate(t, path, Options{Version: v})
			for _, s := range steps {
				if err := s.do(d); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				mustState(t, d, s.want)
				if got, want := d.Len(), len(s.want.Entries); got != want {
					t.Fatalf("%s: Len %d, want %d", s.name, got, want)
				}
				for n, e := range s.want.Entries {
					if got, ok := d.Get(n); !ok || got != e {
						t.Fatalf("%s: Get(%q) = %v, %v", s.name, n, got, ok)
					}
				}
				st := d.Stats()
				if st.Version != v || st.Entries != len(s.want.Entries) || st.FileSize != contentSize(t, path) {
					t.Fatalf("%s: stats %+v, contents %d bytes", s.name, st, contentSize(t, path))
				}
				// Reopen after every step: the file alone holds the state.
				mustClose(t, d)
				d = mustOpen(t, path, Options{Version: v})
				mustState(t, d, s.want)
			}
			mustClose(t, d)
		})
	}
}

func TestStats(t *testing.T) {
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	empty := d.Stats()
	if empty != (Stats{Version: 3, FileSize: contentSize(t, path)}) {
		t.Fatalf("empty stats %+v", empty)
	}
	must(t, d.Insert("a", entry(1)))
	must(t, d.Insert("b", entry(2)))
	must(t, d.Insert("a", entry(3))) // overwrite: 1 dead
	must(t, d.Remove("b"))           // remove and its insert: 2 dead
	must(t, d.Remove("b"))           // absent: nothing written
	want := Stats{Version: 3, Entries: 1, LogRecords: 4, DeadRecords: 3, FileSize: contentSize(t, path)}
	if got := d.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	mustClose(t, d)
	d = mustOpen(t, path, Options{})
	if got := d.Stats(); got != want {
		t.Fatalf("stats after reopen %+v, want %+v", got, want)
	}
	must(t, d.Compact())
	if got := d.Stats(); got.LogRecords != 0 || got.DeadRecords != 0 || got.Entries != 1 || got.FileSize != fileSize(t, path) || got.FileSize >= want.FileSize {
		t.Fatalf("stats after compaction %+v (before %+v)", got, want)
	}
	mustClose(t, d)
}

func TestRemoveAbsentWritesNothing(t *testing.T) {
	ffs := &faultFS{}
	path := dictPath(t)
	d := mustCreate(t, path, Options{FS: ffs})
	defer d.Close()
	must(t, d.Insert("a", entry(1)))
	size, syncs := fileSize(t, path), ffs.syncs.Load()
	must(t, d.Remove("b"))
	must(t, d.RemovePrefix("b"))
	if fileSize(t, path) != size || ffs.syncs.Load() != syncs || ffs.appends.Load() != 1 {
		t.Fatalf("a remove of nothing wrote: size %d→%d, syncs %d→%d", size, fileSize(t, path), syncs, ffs.syncs.Load())
	}
}

func TestNames(t *testing.T) {
	for _, v := range versions {
		path := dictPath(t)
		d := mustCreate(t, path, Options{Version: v})
		long := strings.Repeat("n", maxNameLen)
		must(t, d.Insert(long, entry(1)))
		for _, bad := range []string{"", long + "x", "a\x00b"} {
			checks := map[string]error{
				"Insert":       d.Insert(bad, entry(1)),
				"Remove":       d.Remove(bad),
				"RemovePrefix": d.RemovePrefix(bad),
				"BeginRename":  d.BeginRename(Rename{Src: bad, Dst: "ok"}),
				"BeginRename2": d.BeginRename(Rename{Src: "ok", Dst: bad}),
				"CommitRename": d.CommitRename("ok", bad),
				"AbortRename":  d.AbortRename(bad, "ok"),
			}
			for op, err := range checks {
				if !errors.Is(err, fs.ErrInvalid) {
					t.Fatalf("v%d %s(%.10q…): %v", v, op, bad, err)
				}
			}
		}
		for _, m := range []ctr.Method{0, 6, 255} {
			if err := d.Insert("x", Entry{Method: m}); !errors.Is(err, fs.ErrInvalid) || !errors.Is(err, ctr.ErrUnknownMethod) {
				t.Fatalf("method %d: %v", m, err)
			}
			if err := d.BeginRename(Rename{Src: "x", Dst: "y", Fresh: &Entry{Method: m}}); !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("fresh method %d: %v", m, err)
			}
		}
		mustClose(t, d)
		d = mustOpen(t, path, Options{Version: v})
		mustState(t, d, dictState{Entries: map[string]Entry{long: entry(1)}})
		mustClose(t, d)
	}
}

func TestRenames(t *testing.T) {
	fresh := entry(50)
	tests := []struct {
		name       string
		before     map[string]Entry
		r          Rename
		commit     bool
		wantCommit map[string]Entry
	}{
		{"src entry, commit", map[string]Entry{"s": entry(1)}, Rename{Src: "s", Dst: "d"}, true, map[string]Entry{"d": entry(1)}},
		{"src entry replaces dst", map[string]Entry{"s": entry(1), "d": entry(2)}, Rename{Src: "s", Dst: "d"}, true, map[string]Entry{"d": entry(1)}},
		{"no src entry clears dst", map[string]Entry{"d": entry(2), "o": entry(3)}, Rename{Src: "s", Dst: "d"}, true, map[string]Entry{"o": entry(3)}},
		{"no src entry, no dst", map[string]Entry{"o": entry(3)}, Rename{Src: "s", Dst: "d"}, true, map[string]Entry{"o": entry(3)}},
		{"fresh with src entry", map[string]Entry{"s": entry(1), "d": entry(2)}, Rename{Src: "s", Dst: "d", Fresh: &fresh}, true, map[string]Entry{"d": fresh}},
		{"fresh without src entry", map[string]Entry{}, Rename{Src: "s", Dst: "d", Fresh: &fresh}, true, map[string]Entry{"d": fresh}},
		{"abort", map[string]Entry{"s": entry(1), "d": entry(2)}, Rename{Src: "s", Dst: "d"}, false, map[string]Entry{"s": entry(1), "d": entry(2)}},
		{"abort fresh", map[string]Entry{"s": entry(1)}, Rename{Src: "s", Dst: "d", Fresh: &fresh}, false, map[string]Entry{"s": entry(1)}},
	}
	for _, v := range versions {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("v%d/%s", v, tc.name), func(t *testing.T) {
				path := dictPath(t)
				d := mustCreate(t, path, Options{Version: v})
				for n, e := range tc.before {
					must(t, d.Insert(n, e))
				}
				r := tc.r
				if r.Fresh != nil {
					f := *r.Fresh
					r.Fresh = &f
				}
				must(t, d.BeginRename(r))
				if r.Fresh != nil {
					r.Fresh.KeyID++ // the dictionary holds a copy
				}
				// Refused while pending: a second rename to d, from s or
				// elsewhere; resolving a rename that is not pending.
				for _, r := range []Rename{{Src: tc.r.Src, Dst: tc.r.Dst}, {Src: "other", Dst: tc.r.Dst}} {
					if err := d.BeginRename(r); !errors.Is(err, fs.ErrExist) {
						t.Fatalf("second BeginRename %v: %v", r, err)
					}
				}
				if err := d.CommitRename("other", tc.r.Dst); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("commit with the wrong source: %v", err)
				}
				if err := d.AbortRename(tc.r.Src, "other"); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("abort of another destination: %v", err)
				}
				if err := d.BeginRename(Rename{Src: "x", Dst: "x"}); !errors.Is(err, fs.ErrInvalid) {
					t.Fatalf("rename to itself: %v", err)
				}
				// The intent survives a reopen, as it would a crash.
				mustClose(t, d)
				d = mustOpen(t, path, Options{Version: v})
				pend := d.PendingRenames()
				if len(pend) != 1 || pend[0].Src != tc.r.Src || pend[0].Dst != tc.r.Dst || (pend[0].Fresh == nil) != (tc.r.Fresh == nil) ||
					(tc.r.Fresh != nil && *pend[0].Fresh != fresh) {
					t.Fatalf("pending after reopen: %+v", pend)
				}
				pend[0].Src = "mutated" // callers get copies
				mustState(t, d, dictState{Entries: tc.before, Pending: []Rename{{Src: tc.r.Src, Dst: tc.r.Dst, Fresh: pendFresh(tc.r, fresh)}}})
				if tc.commit {
					must(t, d.CommitRename(tc.r.Src, tc.r.Dst))
				} else {
					must(t, d.AbortRename(tc.r.Src, tc.r.Dst))
				}
				mustState(t, d, dictState{Entries: tc.wantCommit})
				if err := d.CommitRename(tc.r.Src, tc.r.Dst); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("resolving twice: %v", err)
				}
				mustClose(t, d)
				d = mustOpen(t, path, Options{Version: v})
				mustState(t, d, dictState{Entries: tc.wantCommit})
				mustClose(t, d)
			})
		}
	}
}

func pendFresh(r Rename, fresh Entry) *Entry {
	if r.Fresh == nil {
		return nil
	}
	return &fresh
}

func TestUpgradeDowngrade(t *testing.T) {
	want := dictState{
		Entries: map[string]Entry{},
		Pending: []Rename{{Src: "r/1", Dst: "r/2"}, {Src: "r/3", Dst: "r/4", Fresh: entryPtr(99)}},
	}
	for i := range 40 {
		want.Entries[fmt.Sprintf("db/%06d.sst", i)] = entry(i)
	}
	for _, tc := range []struct{ from, to int }{{1, 3}, {3, 1}, {3, 3}, {1, 1}} {
		t.Run(fmt.Sprintf("v%d-to-v%d", tc.from, tc.to), func(t *testing.T) {
			path := dictPath(t)
			d := mustCreate(t, path, Options{Version: tc.from})
			for n, e := range want.Entries {
				must(t, d.Insert(n, e))
			}
			must(t, d.Insert("gone", entry(1)))
			must(t, d.Remove("gone"))
			for _, r := range want.Pending {
				must(t, d.BeginRename(r))
			}
			mustClose(t, d)
			if v, err := ReadVersion(path); err != nil || v != tc.from {
				t.Fatalf("ReadVersion = %d, %v", v, err)
			}
			d = mustOpen(t, path, Options{Version: tc.to})
			if v, err := ReadVersion(path); err != nil || v != tc.to {
				t.Fatalf("after Open: ReadVersion = %d, %v", v, err)
			}
			mustState(t, d, want)
			must(t, d.Insert("after", entry(5)))
			mustClose(t, d)
			want2 := dictState{Entries: map[string]Entry{"after": entry(5)}, Pending: want.Pending}
			for n, e := range want.Entries {
				want2.Entries[n] = e
			}
			// And back: nothing lost either way.
			d = mustOpen(t, path, Options{Version: tc.from})
			mustState(t, d, want2)
			mustClose(t, d)
		})
	}
}

func TestVersionRejection(t *testing.T) {
	path := dictPath(t)
	d := mustCreate(t, path, Options{Version: 3})
	must(t, d.Insert("a", entry(1)))
	mustClose(t, d)
	before, _ := os.ReadFile(path)

	// Readers that know only version 1, or 1 and 2, refuse a version-3
	// file, and leave it as it was.
	for _, maxVer := range []int{1, 2} {
		_, err := openDict(path, Options{Version: 1}, maxVer)
		if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "unknown version 3") {
			t.Fatalf("version-%d reader: %v", maxVer, err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Fatal("a refused Open changed the file")
		}
	}

	data := append([]byte(nil), before...)
	data[4] = 9
	must(t, os.WriteFile(path, data, 0o600))
	for _, o := range []Options{{Version: 1}, {Version: 2}, {Version: 3}} {
		if _, err := Open(path, o); !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "unknown version 9") {
			t.Fatalf("version 9: %v", err)
		}
	}
	if v, err := ReadVersion(path); v != 9 || !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "unknown version 9") {
		t.Fatalf("ReadVersion of version 9 = %d, %v", v, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Fatal("a refused Open changed the file")
	}
	must(t, os.WriteFile(path, data[:5], 0o600))
	if _, err := ReadVersion(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadVersion of a short file: %v", err)
	}
	if _, err := ReadVersion(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadVersion of a missing file: %v", err)
	}
}

func TestStaleTempsRemoved(t *testing.T) {
	path := dictPath(t)
	mustClose(t, mustCreate(t, path, Options{}))
	dir := filepath.Dir(path)
	stale := []string{"file.dict.tmp-123", "file.dict.tmp-"}
	keep := []string{"file.dict.tmpx", "other.tmp-1", "file.dict2.tmp-1"}
	for _, n := range append(stale, keep...) {
		must(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600))
	}
	mustClose(t, mustOpen(t, path, Options{}))
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stale %s left: %v", n, err)
		}
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s removed: %v", n, err)
		}
	}
	// Rewrites leave no temporary files behind.
	d := mustOpen(t, path, Options{Version: 1})
	must(t, d.Insert("a", entry(1)))
	must(t, d.Compact())
	mustClose(t, d)
	des, _ := os.ReadDir(dir)
	if len(des) != 1+len(keep) {
		t.Fatalf("directory holds %d files, want %d", len(des), 1+len(keep))
	}
}

func TestClosed(t *testing.T) {
	path := dictPath(t)
	d := mustCreate(t, path, Options{})
	must(t, d.Insert("a", entry(1)))
	mustClose(t, d)
	for name, err := range map[string]error{
		"Insert":  d.Insert("b", entry(2)),
		"Remove":  d.Remove("a"),
		"Begin":   d.BeginRename(Rename{Src: "a", Dst: "b"}),
		"Compact": d.Compact(),
		"Close":   d.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s after Close: %v", name, err)
		}
	}
	if e, ok := d.Get("a"); !ok || e != entry(1) {
		t.Fatal("Get after Close lost the entry")
	}
}

func TestRangeStops(t *testing.T) {
	d := mustCreate(t, dictPath(t), Options{})
	defer d.Close()
	for i := range 10 {
		must(t, d.Insert(fmt.Sprint(i), entry(i)))
	}
	calls := 0
	d.Range(func(n string, e Entry) bool {
		calls++
		// fn may mutate the dictionary: Range holds no lock while calling it.
		must(t, d.Insert("new"+n, e))
		return calls < 3
	})
	if calls != 3 || d.Len() != 13 {
		t.Fatalf("Range made %d calls, Len %d", calls, d.Len())
	}
}

func TestCompaction(t *testing.T) {
	path := dictPath(t)
	const threshold = 20
	d := mustCreate(t, path, Options{RewriteThreshold: threshold})
	want := dictState{Entries: map[string]Entry{}}
	maxSize, compactions := int64(0), 0
	lastRecords := 0
	for i := range 300 {
		n := fmt.Sprintf("f%d", i%7)
		if i%3 == 2 {
			must(t, d.Remove(n))
			delete(want.Entries, n)
		} else {
			must(t, d.Insert(n, entry(i)))
			want.Entries[n] = entry(i)
		}
		st := d.Stats()
		if st.DeadRecords > threshold {
			t.Fatalf("op %d: %d dead records left above the threshold", i, st.DeadRecords)
		}
		if st.LogRecords < lastRecords {
			compactions++
		}
		lastRecords = st.LogRecords
		maxSize = max(maxSize, st.FileSize)
		if st.FileSize != contentSize(t, path) {
			t.Fatalf("op %d: FileSize %d, contents %d", i, st.FileSize, contentSize(t, path))
		}
	}
	if compactions < 5 {
		t.Fatalf("%d compactions in 300 ops with threshold %d", compactions, threshold)
	}
	mustState(t, d, want)
	must(t, d.Compact())
	if s := fileSize(t, path); s >= maxSize {
		t.Fatalf("compacted file %d bytes, it reached %d", s, maxSize)
	}
	mustClose(t, d)
	d = mustOpen(t, path, Options{RewriteThreshold: threshold})
	mustState(t, d, want)
	mustClose(t, d)

	// A file with more dead records than the threshold is compacted at Open.
	d = mustOpen(t, path, Options{})
	for i := range 30 {
		must(t, d.Insert("x", entry(i)))
	}
	mustClose(t, d)
	d = mustOpen(t, path, Options{RewriteThreshold: 10})
	if st := d.Stats(); st.LogRecords != 0 {
		t.Fatalf("Open left %d log records", st.LogRecords)
	}
	mustClose(t, d)
}

// TestGetDuringIO holds the writer inside an append and inside a
// compaction (at failpoints) and checks that Get, Len and Stats still
// answer.
func TestGetDuringIO(t *testing.T) {
	for _, point := range []string{"append.after-write", "rewrite.after-temp-sync", "rewrite.after-rename"} {
		t.Run(point, func(t *testing.T) {
			reached, release := make(chan struct{}), make(chan struct{})
			var armed atomic.Bool
			fp := func(name string) {
				if name == point && armed.CompareAndSwap(true, false) {
					close(reached)
					<-release
				}
			}
			d := mustCreate(t, dictPath(t), Options{Failpoint: fp})
			defer d.Close()
			for i := range 2000 {
				must(t, d.Insert(fmt.Sprintf("db/%06d.sst", i), entry(i)))
			}
			armed.Store(true)
			done := make(chan error, 1)
			go func() {
				if strings.HasPrefix(point, "append") {
					done <- d.Insert("new", entry(1))
				} else {
					done <- d.Compact()
				}
			}()
			<-reached
			answered := make(chan struct{})
			go func() {
				for i := range 2000 {
					if e, ok := d.Get(fmt.Sprintf("db/%06d.sst", i)); !ok || e != entry(i) {
						t.Errorf("Get %d during I/O = %v, %v", i, e, ok)
					}
				}
				if _, ok := d.Get("new"); ok {
					t.Error("an entry shows before it is durable")
				}
				_ = d.Len()
				_ = d.Stats()
				close(answered)
			}()
			select {
			case <-answered:
			case <-time.After(10 * time.Second):
				t.Fatal("lookups wait behind the writer's I/O")
			}
			close(release)
			must(t, <-done)
		})
	}
}

func TestFailpointsHit(t *testing.T) {
	for _, v := range versions {
		var mu sync.Mutex
		hits := map[string]int{}
		fp := func(name string) { mu.Lock(); hits[name]++; mu.Unlock() }
		d := mustCreate(t, dictPath(t), Options{Version: v, RewriteThreshold: 3, Failpoint: fp})
		for i := range 10 {
			must(t, d.Insert("a", entry(i)))
		}
		mustClose(t, d)
		want := []string{"rewrite.after-temp-sync", "rewrite.after-rename"}
		if v == logVersion {
			want = append(want, "append.after-extend", "append.before-write", "append.after-write", "append.after-sync")
		}
		for _, name := range want {
			if hits[name] == 0 {
				t.Fatalf("v%d: failpoint %q never hit (hits %v)", v, name, hits)
			}
		}
		if len(hits) != len(want) {
			t.Fatalf("v%d: unexpected failpoints %v", v, hits)
		}
	}
}

// BeforeRemove sees every removed name before the removal is written, and
// its failure fails only the removes of that group.
func TestBeforeRemove(t *testing.T) {
	var seen []string
	fail := false
	o := Options{BeforeRemove: func(names []string) error {
		seen = append(seen, names...)
		if fail {
			return errors.New("directory sync failed")
		}
		return nil
	}}
	path := filepath.Join(t.TempDir(), "file.dict")
	d, err := Create(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, n := range []string{"a", "b"} {
		if err := d.Insert(n, entry(1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 0 {
		t.Fatalf("called for inserts: %v", seen)
	}
	if err := d.Remove("a"); err != nil || len(seen) != 1 || seen[0] != "a" {
		t.Fatalf("remove a: %v, seen %v", err, seen)
	}
	fail = true
	if err := d.Remove("b"); err == nil {
		t.Fatal("remove succeeded although BeforeRemove failed")
	}
	if _, ok := d.Get("b"); !ok {
		t.Fatal("entry removed although BeforeRemove failed")
	}
	if err := d.Insert("c", entry(2)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d = mustOpen(t, path, Options{})
	defer d.Close()
	if _, ok := d.Get("b"); !ok || d.Len() != 2 {
		t.Fatalf("after reopen: %d entries", d.Len())
	}
}

// RemoveMany makes all its removals durable with one write and one fsync,
// shows BeforeRemove every name at once, skips names without an entry,
// and writes nothing when a name is invalid or BeforeRemove fails.
func TestRemoveMany(t *testing.T) {
	errSync := errors.New("directory sync failed")
	for _, v := range versions {
		for _, tc := range []struct {
			name      string
			remove    []string
			failDir   bool
			wantErr   error
			wantLeft  []string
			wantSeen  []string
			wantWrite bool
		}{
			{name: "some", remove: []string{"a", "b", "missing", "c"}, wantLeft: []string{"d"}, wantSeen: []string{"a", "b", "c"}, wantWrite: true},
			{name: "one", remove: []string{"d"}, wantLeft: []string{"a", "b", "c"}, wantSeen: []string{"d"}, wantWrite: true},
			{name: "none with an entry", remove: []string{"x", "y"}, wantLeft: []string{"a", "b", "c", "d"}},
			{name: "empty", wantLeft: []string{"a", "b", "c", "d"}},
			{name: "invalid name", remove: []string{"a", ""}, wantErr: fs.ErrInvalid, wantLeft: []string{"a", "b", "c", "d"}},
			{name: "BeforeRemove fails", remove: []string{"a", "b"}, failDir: true, wantErr: errSync, wantLeft: []string{"a", "b", "c", "d"}, wantSeen: []string{"a", "b"}},
		} {
			t.Run(fmt.Sprintf("v%d/%s", v, tc.name), func(t *testing.T) {
				ffs := &faultFS{}
				var seen []string
				path := dictPath(t)
				d := mustCreate(t, path, Options{Version: v, FS: ffs, BeforeRemove: func(names []string) error {
					seen = append(seen, names...)
					if tc.failDir {
						return errSync
					}
					return nil
				}})
				defer d.Close()
				for i, n := range []string{"a", "b", "c", "d"} {
					must(t, d.Insert(n, entry(i)))
				}
				before := d.Stats()
				syncs := ffs.syncs.Load()
				err := d.RemoveMany(tc.remove)
				if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
					t.Fatalf("RemoveMany: %v, want %v", err, tc.wantErr)
				}
				if !slices.Equal(seen, tc.wantSeen) {
					t.Fatalf("BeforeRemove saw %q, want %q", seen, tc.wantSeen)
				}
				wantSyncs := int64(0)
				if tc.wantWrite {
					wantSyncs = 1
				}
				if got := ffs.syncs.Load() - syncs; got != wantSyncs {
					t.Fatalf("%d fsyncs, want %d", got, wantSyncs)
				}
				after := d.Stats()
				if removed := before.Entries - after.Entries; v == logVersion && after.LogRecords-before.LogRecords != removed {
					t.Fatalf("%d log records for %d removals", after.LogRecords-before.LogRecords, removed)
				}
				want := dictState{Entries: map[string]Entry{}}
				for _, n := range tc.wantLeft {
					want.Entries[n] = entry(int(n[0] - 'a'))
				}
				mustState(t, d, want)
				mustClose(t, d)
				d = mustOpen(t, path, Options{Version: v})
				mustState(t, d, want)
			})
		}
	}
}

// The log's file is extended with zeros 1 MiB at a time ahead of its
// records: one fsync per extension, an fdatasync per group, zeros after
// the contents while open, none after Close; a file left with its zeros
// (a crash) opens to the same state; a failed extension fails its group
// only, and the next one repairs the file.
func TestLogExtension(t *testing.T) {
	long := strings.Repeat("n", 900) // about 950 bytes a record
	for _, tc := range []struct {
		name        string
		inserts     int
		failExtends int
		wantExtends int64
	}{
		{name: "one extent", inserts: 10, wantExtends: 1},
		{name: "past one extent", inserts: 1200, wantExtends: 2},
		{name: "failed extension", inserts: 10, failExtends: 1, wantExtends: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := &faultFS{failExtends: tc.failExtends}
			path := dictPath(t)
			d := mustCreate(t, path, Options{FS: ffs})
			created := ffs.syncs.Load() // the new file's own
			want := dictState{Entries: map[string]Entry{}}
			for i := range tc.inserts {
				name := fmt.Sprintf("%s%05d", long, i)
				err := d.Insert(name, entry(i))
				if i == 0 && tc.failExtends > 0 {
					if !errors.Is(err, errInjected) {
						t.Fatalf("insert with a failing extension: %v", err)
					}
					continue
				}
				must(t, err)
				want.Entries[name] = entry(i)
			}
			mustState(t, d, want)
			if got := ffs.extends.Load(); got != tc.wantExtends {
				t.Fatalf("%d extensions, want %d", got, tc.wantExtends)
			}
			if got := ffs.fullSyncs.Load(); got != ffs.extends.Load()-int64(tc.failExtends) {
				t.Fatalf("%d fsyncs of the log for %d extensions", got, ffs.extends.Load())
			}
			if datasyncs := ffs.syncs.Load() - created - ffs.fullSyncs.Load(); tc.failExtends == 0 && datasyncs != int64(tc.inserts) {
				t.Fatalf("%d fdatasyncs for %d inserts", datasyncs, tc.inserts)
			}
			size := d.Stats().FileSize
			if onDisk := fileSize(t, path); onDisk <= size || onDisk%logExtent != 0 {
				t.Fatalf("open file of %d bytes for %d of contents", onDisk, size)
			}
			if got := contentSize(t, path); got != size {
				t.Fatalf("contents %d bytes, Stats says %d", got, size)
			}
			// A crash leaves the zeros: the file opens to the same state,
			// and the zeros are gone.
			crashed := filepath.Join(t.TempDir(), "crashed.dict")
			data, err := os.ReadFile(path)
			must(t, err)
			must(t, os.WriteFile(crashed, data, 0o600))
			c := mustOpen(t, crashed, Options{})
			mustState(t, c, want)
			if got := fileSize(t, crashed); got != size {
				t.Fatalf("reopened crash copy of %d bytes, want %d", got, size)
			}
			mustClose(t, c)
			mustClose(t, d)
			if got := fileSize(t, path); got != size {
				t.Fatalf("closed file of %d bytes, want %d", got, size)
			}
			d = mustOpen(t, path, Options{})
			mustState(t, d, want)
			mustClose(t, d)
		})
	}
}
