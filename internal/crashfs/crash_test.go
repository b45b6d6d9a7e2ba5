//go:build unix

package crashfs

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"sync"
	"testing"
)

const seeds = 400

// blocks returns n blocks, block i filled with the byte c+i.
func blocks(c byte, n int) []byte {
	b := make([]byte, 0, n*BlockSize)
	for i := range n {
		b = append(b, bytes.Repeat([]byte{c + byte(i)}, BlockSize)...)
	}
	return b
}

func TestSyncedSurvivesEveryCrash(t *testing.T) {
	f := newFS(t, "/d", "/e")
	want := map[string][]byte{
		"/d/a": blocks('a', 3),
		"/d/b": []byte("short"),
		"/e/c": blocks('A', 2)[:5000],
	}
	for p, b := range want {
		put(t, f, p, b, true)
	}
	mustNoErr(t, f.Link("/d/a", "/e/a"))
	want["/e/a"] = want["/d/a"]
	mustNoErr(t, f.SyncDir("/d"))
	mustNoErr(t, f.SyncDir("/e"))
	// Unsynced noise after: new files, writes to other files, pending
	// operations in the same directories.
	put(t, f, "/d/noise", blocks('n', 2), false)
	put(t, f, "/e/noise", blocks('n', 2), true)
	mustNoErr(t, f.Rename("/e/noise", "/d/noise2"))
	for _, cfg := range []CrashConfig{KeepNothingUnsynced(), KeepAllUnsynced()} {
		_ = f.Crash(cfg)
	}
	for seed := range uint64(seeds) {
		g := f.Crash(RandomCrash(seed))
		for p, b := range want {
			if got, ok := get(t, g, p); !ok || !bytes.Equal(got, b) {
				t.Fatalf("seed %d: %s lost (present %v, %d bytes)", seed, p, ok, len(got))
			}
		}
		if sa, sb := stat(t, g, "/d/a"), stat(t, g, "/e/a"); sa.Ino != sb.Ino || sa.Nlink != 2 {
			t.Fatalf("seed %d: hard link not kept: %d %d nlink %d", seed, sa.Ino, sb.Ino, sa.Nlink)
		}
		// The crashed FS is all durable: crashing it again keeps it.
		if h := g.Crash(KeepNothingUnsynced()); !maps.EqualFunc(h.Snapshot(), g.Snapshot(), bytes.Equal) {
			t.Fatalf("seed %d: a crash of the crashed FS lost something", seed)
		}
	}
}

func TestKeepNothingUnsynced(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", blocks('a', 3), true)
	mustNoErr(t, f.SyncDir("/d"))
	h, err := f.OpenFile("/d/a", os.O_RDWR, 0)
	mustNoErr(t, err)
	_, err = h.WriteAt(blocks('x', 4), 100)
	mustNoErr(t, err)
	put(t, f, "/d/new", []byte("new"), true) // synced, but not its name
	mustNoErr(t, f.Mkdir("/d/sub", 0o755))
	g := f.Crash(KeepNothingUnsynced())
	if got, _ := get(t, g, "/d/a"); !bytes.Equal(got, blocks('a', 3)) {
		t.Fatalf("unsynced write survived: %d bytes", len(got))
	}
	if _, ok := get(t, g, "/d/new"); ok {
		t.Fatal("unsynced name survived")
	}
	if len(g.Dirs()) != 2 {
		t.Fatalf("unsynced Mkdir survived: %v", g.Dirs())
	}
	// Datasync is enough for writes inside the size, and beyond it.
	mustNoErr(t, h.Datasync())
	g = f.Crash(KeepNothingUnsynced())
	if got, _ := get(t, g, "/d/a"); !bytes.Equal(got, append(blocks('a', 3)[:100], blocks('x', 4)...)) {
		t.Fatalf("datasynced write lost: %d bytes", len(got))
	}
	// Shrinking is durable only at a sync too.
	mustNoErr(t, h.(interface{ Truncate(int64) error }).Truncate(10))
	if got, _ := get(t, f.Crash(KeepNothingUnsynced()), "/d/a"); len(got) != 100+4*BlockSize {
		t.Fatalf("unsynced truncate survived: %d bytes", len(got))
	}
	mustNoErr(t, h.Sync())
	if got, _ := get(t, f.Crash(KeepNothingUnsynced()), "/d/a"); !bytes.Equal(got, blocks('a', 1)[:10]) {
		t.Fatalf("synced truncate: %q", got)
	}
	mustNoErr(t, h.Close())
}

func TestKeepAllUnsynced(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", blocks('a', 3), false)
	mustNoErr(t, f.Mkdir("/d/s", 0o700))
	put(t, f, "/d/s/b", []byte("b"), false)
	mustNoErr(t, f.Rename("/d/a", "/d/s/a"))
	g := f.Crash(KeepAllUnsynced())
	if !maps.EqualFunc(g.Snapshot(), f.Snapshot(), bytes.Equal) || len(g.Snapshot()) != 2 {
		t.Fatalf("crash keeping everything: %v vs %v", g.Files(), f.Files())
	}
	// The crash leaves the original alone.
	put(t, f, "/d/c", nil, false)
	if len(g.Files()) != 2 || len(f.Files()) != 3 {
		t.Fatal("the crashed FS and the original share state")
	}
}

// TestRandomBlocks: unsynced blocks survive independently, so a later
// block survives without an earlier one, and the size is the durable or
// the current one.
func TestRandomBlocks(t *testing.T) {
	f := newFS(t, "/d")
	old := blocks('a', 3)
	put(t, f, "/d/a", old, true)
	mustNoErr(t, f.SyncDir("/d"))
	h, err := f.OpenFile("/d/a", os.O_RDWR, 0)
	mustNoErr(t, err)
	defer h.Close()
	cur := blocks('x', 5)
	_, err = h.WriteAt(cur, 0)
	mustNoErr(t, err)
	patterns := map[string]int{}
	sizes := map[int]int{}
	for seed := range uint64(seeds) {
		got, ok := get(t, f.Crash(RandomCrash(seed)), "/d/a")
		if !ok {
			t.Fatalf("seed %d: file lost", seed)
		}
		sizes[len(got)]++
		if len(got) != len(old) && len(got) != len(cur) {
			t.Fatalf("seed %d: size %d", seed, len(got))
		}
		pat := ""
		for i := 0; i < len(got)/BlockSize; i++ {
			blk := got[i*BlockSize : (i+1)*BlockSize]
			switch {
			case bytes.Equal(blk, cur[i*BlockSize:(i+1)*BlockSize]):
				pat += "N"
			case i < 3 && bytes.Equal(blk, old[i*BlockSize:(i+1)*BlockSize]):
				pat += "o"
			case i >= 3 && bytes.Equal(blk, make([]byte, BlockSize)):
				pat += "0"
			default:
				t.Fatalf("seed %d: block %d is neither old nor new", seed, i)
			}
		}
		patterns[pat]++
	}
	if patterns["oNo"] == 0 && patterns["oNN"] == 0 && patterns["ooN"] == 0 {
		t.Errorf("never saw a later block survive without an earlier one: %v", patterns)
	}
	if patterns["oNo0N"] == 0 {
		t.Errorf("never saw the size grow with holes: %v", patterns)
	}
	if len(sizes) != 2 {
		t.Errorf("sizes seen: %v", sizes)
	}
	if len(patterns) < 20 {
		t.Errorf("only %d block patterns over %d seeds: %v", len(patterns), seeds, patterns)
	}
}

// TestRandomPrefixes: of a directory's pending operations a prefix
// survives, of every length.
func TestRandomPrefixes(t *testing.T) {
	f := newFS(t, "/d")
	const n = 5
	for i := range n {
		put(t, f, fmt.Sprintf("/d/f%d", i), []byte{byte(i)}, true)
	}
	lengths := map[int]int{}
	for seed := range uint64(seeds) {
		g := f.Crash(RandomCrash(seed))
		k := len(g.Files())
		for i := range n {
			_, ok := get(t, g, fmt.Sprintf("/d/f%d", i))
			if ok != (i < k) {
				t.Fatalf("seed %d: %v survived, not a prefix", seed, g.Files())
			}
		}
		lengths[k]++
	}
	if len(lengths) != n+1 {
		t.Errorf("prefix lengths seen: %v", lengths)
	}
}

// TestRandomRenames: a rename survives or not, but the file is under one
// name only; a cross-directory rename stays consistent.
func TestRandomRenames(t *testing.T) {
	f := newFS(t, "/d1", "/d2")
	put(t, f, "/d1/same", []byte("same"), true)
	put(t, f, "/d1/cross", []byte("cross"), true)
	mustNoErr(t, f.SyncDir("/d1"))
	// Pending operations around the renames, in both directories.
	put(t, f, "/d1/before", nil, false)
	put(t, f, "/d2/before", nil, false)
	mustNoErr(t, f.Rename("/d1/same", "/d1/same2"))
	mustNoErr(t, f.Rename("/d1/cross", "/d2/cross"))
	put(t, f, "/d1/after", nil, false)
	put(t, f, "/d2/after", nil, false)
	type outcome struct{ same, cross string }
	seen := map[outcome]int{}
	for seed := range uint64(seeds) {
		g := f.Crash(RandomCrash(seed))
		where := func(content string, names ...string) string {
			at := ""
			for _, p := range names {
				if b, ok := get(t, g, p); ok {
					if string(b) != content || at != "" {
						t.Fatalf("seed %d: %s: %q (also at %q): %v", seed, p, b, at, g.Files())
					}
					at = p
				}
			}
			if at == "" {
				t.Fatalf("seed %d: %q under no name: %v", seed, content, g.Files())
			}
			return at
		}
		o := outcome{where("same", "/d1/same", "/d1/same2"), where("cross", "/d1/cross", "/d2/cross")}
		seen[o]++
		// Prefixes: what follows the rename needs it.
		_, after1 := get(t, g, "/d1/after")
		_, after2 := get(t, g, "/d2/after")
		_, before2 := get(t, g, "/d2/before")
		if (after1 && o.cross != "/d2/cross") || (after2 && o.cross != "/d2/cross") || (o.cross == "/d2/cross" && !before2) {
			t.Fatalf("seed %d: not prefixes: %v", seed, g.Files())
		}
	}
	// In /d1 the same-directory rename precedes the cross one, so the
	// cross one cannot survive without it.
	if len(seen) != 3 || seen[outcome{"/d1/same", "/d2/cross"}] != 0 {
		t.Errorf("rename outcomes seen: %v", seen)
	}
	// Syncing one of the two directories makes the cross rename durable.
	mustNoErr(t, f.SyncDir("/d2"))
	for seed := range uint64(seeds) {
		g := f.Crash(RandomCrash(seed))
		if _, ok := get(t, g, "/d2/cross"); !ok {
			t.Fatalf("seed %d: synced cross-directory rename lost: %v", seed, g.Files())
		}
		if _, ok := get(t, g, "/d1/cross"); ok {
			t.Fatalf("seed %d: synced cross-directory rename doubled: %v", seed, g.Files())
		}
		if _, ok := get(t, g, "/d1/before"); !ok {
			t.Fatalf("seed %d: what preceded the cross rename in /d1 lost: %v", seed, g.Files())
		}
	}
}

// TestSyncedFileUnsyncedName: a file synced in a directory that was not
// is lost in some crashes and kept in others.
func TestSyncedFileUnsyncedName(t *testing.T) {
	f := newFS(t, "/d")
	put(t, f, "/d/a", blocks('a', 2), true)
	kept, lost := 0, 0
	for seed := range uint64(seeds) {
		got, ok := get(t, f.Crash(RandomCrash(seed)), "/d/a")
		switch {
		case !ok:
			lost++
		case bytes.Equal(got, blocks('a', 2)):
			kept++
		default:
			t.Fatalf("seed %d: synced file damaged", seed)
		}
	}
	if kept == 0 || lost == 0 {
		t.Errorf("kept %d lost %d", kept, lost)
	}
}

// TestUnsyncedRemoveAll: a crash can keep part of a recursive removal,
// never more than a prefix of each directory's removals.
func TestUnsyncedRemoveAll(t *testing.T) {
	f := newFS(t, "/d/x")
	for i := range 3 {
		put(t, f, fmt.Sprintf("/d/x/f%d", i), nil, true)
	}
	mustNoErr(t, f.SyncDir("/d/x"))
	mustNoErr(t, f.RemoveAll("/d/x"))
	counts := map[int]int{}
	for seed := range uint64(seeds) {
		g := f.Crash(RandomCrash(seed))
		counts[len(g.Files())]++
		if _, err := g.Lstat("/d/x"); err != nil && len(g.Files()) > 0 {
			t.Fatalf("seed %d: files without their directory", seed)
		}
	}
	if counts[0] == 0 || counts[3] == 0 || counts[1]+counts[2] == 0 {
		t.Errorf("files left by crashed RemoveAll: %v", counts)
	}
}

func TestDeterministic(t *testing.T) {
	f := newFS(t, "/d", "/e")
	for i := range 10 {
		put(t, f, fmt.Sprintf("/d/f%d", i), blocks(byte(i), 3), i%2 == 0)
		mustNoErr(t, f.Rename(fmt.Sprintf("/d/f%d", i), fmt.Sprintf("/e/f%d", i)))
	}
	for seed := range uint64(20) {
		a, b := f.Crash(RandomCrash(seed)).Snapshot(), f.Crash(RandomCrash(seed)).Snapshot()
		if !maps.EqualFunc(a, b, bytes.Equal) {
			t.Fatalf("seed %d: two crashes differ", seed)
		}
	}
}

// TestCrashWhileWriting crashes while goroutines write, rename and sync;
// run with -race.
func TestCrashWhileWriting(t *testing.T) {
	f := newFS(t, "/d")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := fmt.Sprintf("/d/w%d-%d", w, i%5)
				h, err := f.OpenFile(p+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = h.WriteAt(blocks(byte(i), 2), 0)
				if err == nil {
					err = h.Sync()
				}
				if err == nil {
					err = h.Close()
				}
				if err == nil {
					err = f.Rename(p+".tmp", p)
				}
				if err == nil {
					err = f.SyncDir("/d")
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for seed := range uint64(50) {
		g := f.Crash(RandomCrash(seed))
		for p, b := range g.Snapshot() {
			if len(b) != 2*BlockSize && len(b) != 0 && len(b) != BlockSize {
				t.Errorf("seed %d: %s has %d bytes", seed, p, len(b))
			}
		}
		for _, p := range g.Files() {
			if st := stat(t, g, p); st.Nlink != 1 {
				t.Errorf("%s: nlink %d", p, st.Nlink)
			}
		}
	}
	wg.Wait()
	final := f.Crash(KeepNothingUnsynced())
	for w := range 4 {
		for i := 195; i < 200; i++ {
			p := fmt.Sprintf("/d/w%d-%d", w, i%5)
			if got, _ := get(t, final, p); !bytes.Equal(got, blocks(byte(i), 2)) {
				t.Fatalf("%s: not the last synced contents", p)
			}
		}
	}
}
