package leveldbwork

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/engine/enginetest"
	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// TestPeerStorage runs goleveldb on the peer over goleveldb's in-memory
// storage: what it wrote reads back (through a reopen, the IVs being in
// memory), no value is in the base storage in plaintext, and each file
// the peer opens is its base content under the peer's cipher.
func TestPeerStorage(t *testing.T) {
	for _, m := range []ctr.Method{ctr.AES128CTR, ctr.SM4CTR} {
		t.Run(m.String(), func(t *testing.T) {
			key := make([]byte, m.KeySize())
			rand.Read(key)
			c, err := peer.New(m, key)
			if err != nil {
				t.Fatal(err)
			}
			mem := storage.NewMemStorage()
			ps := NewPeerStorage(mem, c, rand.Reader)
			value := []byte(strings.Repeat("peer-plaintext-marker;", 20))
			open := func() *leveldb.DB {
				db, err := leveldb.Open(ps, &opt.Options{WriteBuffer: 64 << 10})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open()
			for i := range 2000 {
				if err := db.Put(fmt.Appendf(nil, "key%05d", i), value, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = open()
			if v, err := db.Get([]byte("key01234"), nil); err != nil || !bytes.Equal(v, value) {
				t.Fatalf("after reopening: %q, %v", v, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			fds, err := mem.List(storage.TypeAll)
			if err != nil {
				t.Fatal(err)
			}
			tables := 0
			for _, fd := range fds {
				raw := readAll(t, mem, fd)
				if bytes.Contains(raw, value[:16]) {
					t.Errorf("%s holds the value in plaintext", fd)
				}
				if len(raw) == 0 {
					continue
				}
				iv, ok := ps.IVs().Lookup(fd.String())
				if !ok {
					t.Errorf("%s has no IV", fd)
					continue
				}
				want := make([]byte, len(raw))
				c.XORAt(want, raw, iv, 0)
				if got := readAll(t, ps, fd); !bytes.Equal(got, want) {
					t.Errorf("%s: the peer reads other bytes than the cipher gives", fd)
				}
				if fd.Type == storage.TypeTable {
					tables++
				}
			}
			if tables == 0 {
				t.Errorf("no table checked among %v", fds)
			}
		})
	}
}

func readAll(t *testing.T, s storage.Storage, fd storage.FileDesc) []byte {
	t.Helper()
	r, err := s.Open(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineArms runs every workload on every kind of storage through
// Engine (enginetest.CheckArms).
func TestEngineArms(t *testing.T) {
	enginetest.CheckArms(t, Engine)
	// goleveldb's peer needs its cipher: without one the kind is refused.
	if _, err := Engine.Open(context.Background(), filepath.Join(t.TempDir(), "bad"), engine.Storage{Kind: engine.Peer}, engine.Options{}); !errors.Is(err, engine.ErrKind) {
		t.Errorf("a peer without a cipher: %v", err)
	}
}

// TestQuiesceAfterFill: after a fill far past the write buffer, Quiesce
// returns with no level due for compaction (as goleveldb's own listing
// of its tables tells).
func TestQuiesceAfterFill(t *testing.T) {
	db, err := Engine.Open(context.Background(), t.TempDir(), engine.Storage{Kind: engine.Plaintext}, engine.Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 1000)
	for i := range 40_000 {
		rand.Read(value[:16])
		if err := db.Set(fmt.Appendf(nil, "k%08d", (i*7919)%40_000), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Quiesce(); err != nil {
		t.Fatal(err)
	}
	d := db.(*engineDB)
	tables, err := d.db.GetProperty("leveldb.sstables")
	if err != nil {
		t.Fatal(err)
	}
	if due, err := compactionDue(tables, d.opts); due || err != nil {
		t.Errorf("after Quiesce a compaction is due (%v):\n%s", err, tables)
	}
	if !strings.Contains(tables, "--- level 1 ---\n") || strings.Count(tables, ":") < 3 {
		t.Errorf("the fill made too few tables to test anything:\n%s", tables)
	}
}

// TestCompactionDue scores levels as goleveldb does: level 0 by its
// table count against CompactionL0Trigger, the others by their bytes
// against CompactionTotalSize(level): 10 MiB times 10 to the level.
func TestCompactionDue(t *testing.T) {
	o := options(engine.Options{})
	table := func(num, size int64) string { return fmt.Sprintf("%d:%d[\"a\" .. \"b\"]\n", num, size) }
	lv := func(n int) string { return fmt.Sprintf("--- level %d ---\n", n) }
	for _, tc := range []struct {
		name, tables string
		due          bool
	}{
		{"empty", lv(0) + lv(1) + lv(2), false},
		{"three at L0", lv(0) + table(1, 1) + table(2, 1) + table(3, 1) + lv(1), false},
		{"four at L0", lv(0) + table(1, 1) + table(2, 1) + table(3, 1) + table(4, 1) + lv(1), true},
		{"L1 under 100 MiB", lv(0) + lv(1) + table(5, 60<<20) + table(6, 40<<20-1), false},
		{"L1 at 100 MiB", lv(0) + lv(1) + table(5, 60<<20) + table(6, 40<<20) + lv(2), true},
		{"L2 under 1000 MiB", lv(0) + lv(1) + lv(2) + table(7, 999<<20), false},
		{"L2 at 1000 MiB", lv(0) + lv(1) + lv(2) + table(7, 1000<<20), true},
	} {
		if due, err := compactionDue(tc.tables, o); due != tc.due || err != nil {
			t.Errorf("%s: due %v, %v; want %v", tc.name, due, err, tc.due)
		}
	}
	for _, bad := range []string{"1:2[\"a\" .. \"b\"]\n", "--- level x ---\n", "--- level 0 ---\nnot a table\n"} {
		if _, err := compactionDue(bad, o); !errors.Is(err, errSSTables) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestOptions: the block cache is the workloads' cache size, all of it
// (goleveldb charges nothing else to it), and Quiesce's triggers are
// goleveldb's defaults.
func TestOptions(t *testing.T) {
	o := options(engine.Options{CacheSize: 8 << 20})
	if o.BlockCacheCapacity != 8<<20 {
		t.Errorf("block cache %d, want 8 MiB", o.BlockCacheCapacity)
	}
	var defaults opt.Options
	if o.GetCompactionL0Trigger() != defaults.GetCompactionL0Trigger() || o.GetCompactionTotalSize(2) != defaults.GetCompactionTotalSize(2) || o.GetWriteBuffer() != defaults.GetWriteBuffer() {
		t.Error("the options change goleveldb's compaction triggers or write buffer")
	}
}
