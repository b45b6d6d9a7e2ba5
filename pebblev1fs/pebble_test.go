package pebblev1fs

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/enginetest"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
)

// model is what the DB must hold: key index → value, nil for deleted.
type model map[int][]byte

// check reads every key of the model back.
func (want model) check(t *testing.T, db *pebble.DB, stage string) {
	t.Helper()
	for i, v := range want {
		got, ok := get(t, db, key(i))
		switch {
		case v == nil && ok:
			t.Fatalf("%s: key %d was deleted but reads %q", stage, i, got)
		case v != nil && !ok:
			t.Fatalf("%s: key %d is missing", stage, i)
		case v != nil && !bytes.Equal(got, v):
			t.Fatalf("%s: key %d reads %q, want %q", stage, i, got, v)
		}
	}
}

// workload writes to db through every path Pebble has — single sets and
// deletes, batches, an ingested SSTable — with flushes and a full
// compaction, recording what it wrote in want. Keys [base, base+n) are
// this round's.
func workload(t *testing.T, db *pebble.DB, efs *FS, want model, base, n, round int) {
	t.Helper()
	for i := base; i < base+n; i++ {
		sync := pebble.NoSync
		if i%50 == 0 {
			sync = pebble.Sync // one write in fifty waits for the WAL
		}
		if err := db.Set(key(i), value(i, round), sync); err != nil {
			t.Fatalf("set: %v", err)
		}
		want[i] = value(i, round)
	}
	for i := base; i < base+n; i += 7 {
		if err := db.Delete(key(i), pebble.NoSync); err != nil {
			t.Fatalf("delete: %v", err)
		}
		want[i] = nil
	}
	b := db.NewBatch()
	for i := base + 1; i < base+n; i += 5 {
		b.Set(key(i), value(i, round+1000), nil)
		want[i] = value(i, round+1000)
	}
	b.Delete(key(base+3), nil)
	want[base+3] = nil
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatalf("batch: %v", err)
	}
	if err := db.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}

	// An SSTable written through the encrypted FS inside the data
	// directory, then ingested: Pebble links it into the DB.
	if err := efs.MkdirAll(filepath.Join(e2dir(efs), "ingest"), 0o755); err != nil {
		t.Fatal(err)
	}
	sstPath := filepath.Join(e2dir(efs), "ingest", fmt.Sprintf("round-%d.sst", round))
	f, err := efs.Create(sstPath)
	if err != nil {
		t.Fatal(err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: db.FormatMajorVersion().MaxTableFormat()})
	ingestBase := base + n // keys after this round's: an SSTable must be sorted
	for i := ingestBase; i < ingestBase+100; i++ {
		if err := w.Set(key(i), value(i, round+2000)); err != nil {
			t.Fatal(err)
		}
		want[i] = value(i, round+2000)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("write sstable: %v", err)
	}
	if err := db.Ingest([]string{sstPath}); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if err := db.Compact(key(0), key(1<<30), false); err != nil {
		t.Fatalf("compact: %v", err)
	}
}

func e2dir(efs *FS) string { return efs.Manager().Dir() }

// TestEveryMethod runs Pebble on every method: writes through every path,
// flushes, compacts, closes, reopens and reads everything back.
func TestEveryMethod(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			want := model{}
			efs := e.openFS(t, method, nil)
			db := e.openDB(t, efs)
			workload(t, db, efs, want, 0, scaled(3000), 1)
			want.check(t, db, "before reopen")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := efs.Close(); err != nil {
				t.Fatal(err)
			}

			efs = e.openFS(t, method, nil)
			db = e.openDB(t, efs)
			want.check(t, db, "after reopen")
			workload(t, db, efs, want, 5000, scaled(1000), 2)
			want.check(t, db, "second round")
			db.Close()
			efs.Close()
		})
	}
}

// TestNoPlaintextOnDisk writes values carrying a marker, flushes and
// compacts, leaves more in the WAL, and scans every byte of every file:
// the marker is found under plaintext (so the scan works) and never under
// an encrypting method. Every file but LOCK and the dictionaries has an
// entry of the method.
func TestNoPlaintextOnDisk(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			efs := e.openFS(t, method, nil)
			db := e.openDB(t, efs)
			workload(t, db, efs, model{}, 0, scaled(2000), 1)
			// Unflushed: only the WAL holds these.
			for i := 9000; i < 9100; i++ {
				if err := db.Set(key(i), value(i, 3), pebble.Sync); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			enginetest.CheckNoPlaintext(t, e.dir, method, []byte(enginetest.Marker))
			enginetest.CheckEntries(t, e.dir, method, efs.Manager(), "LOCK", kind, []string{"CURRENT or marker", "OPTIONS", "MANIFEST", "WAL", "table"})
			efs.Close()
		})
	}
}

// kind names a Pebble file by its name, for the coverage check above.
func kind(rel string) string {
	base := filepath.Base(rel)
	switch {
	case base == "CURRENT" || bytes.HasPrefix([]byte(base), []byte("marker.")):
		return "CURRENT or marker"
	case bytes.HasPrefix([]byte(base), []byte("OPTIONS-")):
		return "OPTIONS"
	case bytes.HasPrefix([]byte(base), []byte("MANIFEST-")):
		return "MANIFEST"
	case filepath.Ext(base) == ".log":
		return "WAL"
	case filepath.Ext(base) == ".sst":
		return "table"
	}
	return "other"
}

// TestMethodSwitching changes the method across restarts; everything
// written under every earlier method stays readable.
func TestMethodSwitching(t *testing.T) {
	e := newEnv(t)
	want := model{}
	sequence := []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR, ctr.AES256CTR, ctr.Plaintext}
	for round, method := range sequence {
		efs := e.openFS(t, method, nil)
		db := e.openDB(t, efs)
		stage := fmt.Sprintf("round %d (%s) after reopen", round, method)
		want.check(t, db, stage)
		workload(t, db, efs, want, round*10000, scaled(1500), round)
		// Rewrite part of the previous rounds under this method.
		for i := range 200 {
			k := (i * 37) % (round*10000 + 1)
			if err := db.Set(key(k), value(k, 100+round), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			want[k] = value(k, 100+round)
		}
		want.check(t, db, fmt.Sprintf("round %d (%s)", round, method))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := efs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	efs := e.openFS(t, ctr.AES128CTR, nil)
	db := e.openDB(t, efs)
	want.check(t, db, "final reopen")
	db.Close()
	efs.Close()
}

// countingFS counts Pebble's ReuseForWrite calls on the encrypted FS.
type countingFS struct {
	*FS
	reused int
}

func (c *countingFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	c.reused++
	return c.FS.ReuseForWrite(oldname, newname)
}

// TestWALRecycling: Pebble recycles its WAL files through ReuseForWrite
// (each with a fresh IV), and a DB whose WALs were recycled reopens with
// every value, including those only in a recycled WAL.
func TestWALRecycling(t *testing.T) {
	e := newEnv(t)
	efs := e.openFS(t, ctr.SM4CTR, nil)
	cfs := &countingFS{FS: efs}
	db, err := pebble.Open(e.dir, testOptions(cfs))
	if err != nil {
		t.Fatal(err)
	}
	want := model{}
	for round := range 8 {
		for i := range scaled(500) {
			k := round*500 + i
			if err := db.Set(key(k), value(k, round), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			want[k] = value(k, round)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// The last values live only in the WAL, which is a recycled file by
	// now.
	for k := range 300 {
		if err := db.Set(key(k), value(k, 99), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		want[k] = value(k, 99)
	}
	if cfs.reused == 0 {
		t.Fatal("Pebble never recycled a WAL: ReuseForWrite is not exercised")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	efs.Close()
	efs = e.openFS(t, ctr.SM4CTR, nil)
	db = e.openDB(t, efs)
	want.check(t, db, "after recycled WALs")
	db.Close()
	efs.Close()
	t.Logf("%d WAL files recycled", cfs.reused)
}
