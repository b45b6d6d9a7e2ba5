package leveldbstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// workload writes through every path goleveldb has (single puts, some
// synced, deletes, batches) and compacts, recording what it wrote in
// want. Keys [base, base+n) are this round's.
func workload(t *testing.T, db *leveldb.DB, want model, base, n, round int) {
	t.Helper()
	for i := base; i < base+n; i++ {
		if err := db.Put(key(i), value(i, round), &opt.WriteOptions{Sync: i%50 == 0}); err != nil {
			t.Fatalf("put: %v", err)
		}
		want[i] = value(i, round)
	}
	for i := base; i < base+n; i += 7 {
		if err := db.Delete(key(i), nil); err != nil {
			t.Fatalf("delete: %v", err)
		}
		want[i] = nil
	}
	b := new(leveldb.Batch)
	for i := base + 1; i < base+n; i += 5 {
		b.Put(key(i), value(i, round+1000))
		want[i] = value(i, round+1000)
	}
	b.Delete(key(base + 3))
	want[base+3] = nil
	if err := db.Write(b, &opt.WriteOptions{Sync: true}); err != nil {
		t.Fatalf("batch: %v", err)
	}
	if err := db.CompactRange(util.Range{}); err != nil {
		t.Fatalf("compact: %v", err)
	}
}

// TestEveryMethod runs goleveldb on every method: writes through every
// path, compacts, closes, reopens and reads everything back.
func TestEveryMethod(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			want := model{}
			s := e.openStorage(t, method, nil)
			db := openDB(t, s)
			workload(t, db, want, 0, scaled(3000), 1)
			want.check(t, db, "before reopen")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = e.openStorage(t, method, nil)
			db = openDB(t, s)
			want.check(t, db, "after reopen")
			workload(t, db, want, 5000, scaled(1000), 2)
			want.check(t, db, "second round")
			db.Close()
			s.Close()
		})
	}
}

// TestNoPlaintextOnDisk writes values carrying a marker, compacts, leaves
// more in the journal only, and scans every byte of every file: the
// marker is found under plaintext (so the scan works) and never under an
// encrypting method. Every file but LOCK and the dictionaries has an
// entry of the method, and every kind of file was seen.
func TestNoPlaintextOnDisk(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			s := e.openStorage(t, method, nil)
			db := openDB(t, s)
			workload(t, db, model{}, 0, scaled(2000), 1)
			for i := 9000; i < 9100; i++ {
				if err := db.Put(key(i), value(i, 3), &opt.WriteOptions{Sync: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopened: the old LOG becomes LOG.old, the journal replays.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = e.openStorage(t, method, nil)
			defer s.Close()
			s.Log("a line naming " + enginetest.Marker)

			enginetest.CheckNoPlaintext(t, e.dir, method, []byte(enginetest.Marker))
			enginetest.CheckEntries(t, e.dir, method, s.Manager(), lockName, kind, []string{"CURRENT", "MANIFEST", "journal", "table", "LOG", "LOG.old"})
		})
	}
}

// kind names a goleveldb file by its name, for the coverage check above.
func kind(rel string) string {
	if fd, ok := parseName(rel); ok {
		return map[storage.FileType]string{storage.TypeManifest: "MANIFEST", storage.TypeJournal: "journal", storage.TypeTable: "table", storage.TypeTemp: "temp"}[fd.Type]
	}
	if strings.HasPrefix(rel, currentName) {
		return currentName
	}
	return rel
}

// TestMethodSwitching changes the method across restarts; everything
// written under every earlier method stays readable.
func TestMethodSwitching(t *testing.T) {
	e := newEnv(t)
	want := model{}
	sequence := []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR, ctr.AES256CTR, ctr.Plaintext}
	for round, method := range sequence {
		s := e.openStorage(t, method, nil)
		db := openDB(t, s)
		want.check(t, db, fmt.Sprintf("round %d (%s) after reopen", round, method))
		workload(t, db, want, round*10000, scaled(1500), round)
		for i := range 200 {
			k := (i * 37) % (round*10000 + 1)
			if err := db.Put(key(k), value(k, 100+round), nil); err != nil {
				t.Fatal(err)
			}
			want[k] = value(k, 100+round)
		}
		want.check(t, db, fmt.Sprintf("round %d (%s)", round, method))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := e.openStorage(t, ctr.SM4CTR, nil)
	db := openDB(t, s)
	want.check(t, db, "final reopen")
	db.Close()
	s.Close()
}

// TestTurnOnEncryption: a DB goleveldb's own file storage wrote opens on
// the encrypting storage (its files read as plaintext), and what is
// written from then on is encrypted.
func TestTurnOnEncryption(t *testing.T) {
	e := newEnv(t)
	want := model{}
	db, err := leveldb.OpenFile(e.dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	workload(t, db, want, 0, scaled(1000), 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := e.openStorage(t, ctr.AES256CTR, nil)
	db = openDB(t, s)
	want.check(t, db, "after switching storage")
	workload(t, db, want, 0, scaled(1000), 2) // rewrites every key
	if err := db.CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	want.check(t, db, "rewritten")
	db.Close()
	s.Close()
	// goleveldb's storage leaves CURRENT.bak behind: not ours to encrypt.
	hits, _ := enginetest.ScanFor(t, e.dir, []byte("of round 2"))
	if len(hits) > 0 {
		t.Errorf("new values in plaintext in %v", hits)
	}
}
