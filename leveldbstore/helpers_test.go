package leveldbstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// allMethods is every data method, plaintext first.
var allMethods = ctr.Methods

// testEnv is a data directory and a master key file beside it.
type testEnv struct {
	dir     string
	keyPath string
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	root := t.TempDir()
	return &testEnv{dir: filepath.Join(root, "db"), keyPath: testenv.KeyFile(t, root, "master.key", 0x5e)}
}

func (e *testEnv) config(method ctr.Method) keyenv.Config {
	return testenv.Config(method, e.keyPath)
}

// openStorage opens the encrypted storage over base (the OS when nil).
func (e *testEnv) openStorage(t testing.TB, method ctr.Method, base fsys.FS, opts ...dict.Option) *Storage {
	t.Helper()
	s, err := Open(context.Background(), e.dir, e.config(method), base, opts...)
	if err != nil {
		t.Fatalf("open storage with %s: %v", method, err)
	}
	return s
}

// testOptions are small buffers and tables, so memtable flushes and
// compactions happen in short tests.
func testOptions() *opt.Options {
	return &opt.Options{
		WriteBuffer:            128 << 10,
		CompactionTableSize:    64 << 10,
		CompactionL0Trigger:    2,
		CompactionTotalSize:    256 << 10,
		BlockCacheCapacity:     -1,
		OpenFilesCacheCapacity: 50,
	}
}

// openDB opens goleveldb on s.
func openDB(t testing.TB, s *Storage) *leveldb.DB {
	t.Helper()
	db, err := leveldb.Open(s, testOptions())
	if err != nil {
		t.Fatalf("open leveldb: %v", err)
	}
	return db
}

var key = enginetest.Key

func value(i, round int) []byte {
	return fmt.Appendf(nil, "%s value %d of round %d %s", enginetest.Marker, i, round, strings.Repeat("v", i%97))
}

// model is what the DB must hold: key index → value, nil for deleted.
type model map[int][]byte

// check reads every key of the model back.
func (want model) check(t *testing.T, db *leveldb.DB, stage string) {
	t.Helper()
	for i, v := range want {
		got, err := db.Get(key(i), nil)
		switch {
		case errors.Is(err, leveldb.ErrNotFound):
			if v != nil {
				t.Fatalf("%s: key %d is missing", stage, i)
			}
		case err != nil:
			t.Fatalf("%s: get key %d: %v", stage, i, err)
		case v == nil:
			t.Fatalf("%s: key %d was deleted but reads %q", stage, i, got)
		case string(got) != string(v):
			t.Fatalf("%s: key %d reads %q, want %q", stage, i, got, v)
		}
	}
}

// scanGens reads every key of the DB as generations of enginetest values.
func scanGens(db *leveldb.DB) (map[int]uint64, error) {
	it := db.NewIterator(nil, nil)
	kv := map[int][]byte{}
	for it.Next() {
		k, ok := enginetest.ParseKey(it.Key())
		if !ok {
			it.Release()
			return nil, fmt.Errorf("stray key %q", it.Key())
		}
		kv[k] = append([]byte(nil), it.Value()...)
	}
	it.Release()
	if err := it.Error(); err != nil {
		return nil, err
	}
	return enginetest.Read(kv)
}

// scaled is n, or a fifth of it under the race detector (at least 1).
func scaled(n int) int {
	if raceEnabled {
		return max(n/5, 1)
	}
	return n
}
