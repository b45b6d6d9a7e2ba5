package pebblefs

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOnMemFS runs Pebble on pebblefs over Pebble's in-memory file system
// for every method: the whole data directory, dictionaries and lock
// included, lives in the MemFS (nothing is made on the operating
// system's), everything reads back after a reopen on the same MemFS, and
// no byte of any file in it holds the plaintext marker under an
// encrypting method.
func TestOnMemFS(t *testing.T) {
	for _, method := range allMethods {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t)
			mem := vfs.NewMem()
			want := model{}
			efs := e.openFS(t, method, mem)
			db := e.openDB(t, efs)
			workload(t, db, efs, want, 0, 2000, 1)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := efs.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(e.dir); !os.IsNotExist(err) {
				t.Fatalf("the data directory exists on the operating system's file system: %v", err)
			}
			names, err := mem.List(e.dir)
			if err != nil {
				t.Fatal(err)
			}
			var dicts, hits int
			for _, n := range names {
				if dict.IsDictionaryFile(n) {
					dicts++
				}
				if b := readMem(t, mem, mem.PathJoin(e.dir, n)); bytes.Contains(b, []byte(marker)) {
					hits++
				}
			}
			switch {
			case method != ctr.Plaintext && dicts < 3:
				t.Errorf("%d dictionary files in the MemFS (%v), want key.dict, file.dict and the lock", dicts, names)
			case method == ctr.Plaintext && hits == 0:
				t.Error("the marker is in no plaintext file: the scan is broken")
			case method != ctr.Plaintext && hits > 0:
				t.Errorf("the plaintext marker is in %d files", hits)
			}

			efs = e.openFS(t, method, mem)
			db = e.openDB(t, efs)
			want.check(t, db, "after a reopen on the same MemFS")
			db.Close()
			efs.Close()
		})
	}
}

// readMem reads a whole file of a vfs.FS (nil for a directory).
func readMem(t *testing.T, fs vfs.FS, name string) []byte {
	t.Helper()
	st, err := fs.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		return nil
	}
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
