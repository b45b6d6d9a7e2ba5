package enginetest

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/keydict"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

// CheckNoPlaintext scans every byte of every file under dir for marker:
// under ctr.Plaintext it must be found (or the scan is broken), under an
// encrypting method nowhere.
func CheckNoPlaintext(t testing.TB, dir string, method ctr.Method, marker []byte) {
	t.Helper()
	hits, files := ScanFor(t, dir, marker)
	if method == ctr.Plaintext {
		if len(hits) == 0 {
			t.Fatalf("marker not found in %d plaintext files: the scan is broken", files)
		}
	} else if len(hits) > 0 {
		t.Fatalf("plaintext marker on disk in %v", hits)
	}
}

// CheckEntries walks dir and checks that every file but lockName and the
// dictionaries has an entry of method in m (under ctr.Plaintext: none,
// or a plaintext one), and that among the files' kinds (kind names a
// file by its slash-separated path under dir) each of want was seen.
func CheckEntries(t testing.TB, dir string, method ctr.Method, m *dict.Manager, lockName string, kind func(rel string) string, want []string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == lockName || dict.IsDictionaryFile(rel) {
			return nil
		}
		seen[kind(rel)] = true
		ent, ok, err := m.Lookup(rel)
		if err != nil {
			return err
		}
		switch {
		case method == ctr.Plaintext && ok && ent.Method != ctr.Plaintext:
			t.Errorf("%s: entry %s under plaintext", rel, ent.Method)
		case method != ctr.Plaintext && (!ok || ent.Method != method):
			t.Errorf("%s: entry %v (found %v), want %s", rel, ent.Method, ok, method)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("no %s file was checked (saw %v)", k, seen)
		}
	}
}

// DataKey reads data key id from the key dictionary in dir with the
// master keys of c, independently of any Manager, so a test can check the
// bytes on disk from outside.
func DataKey(t testing.TB, dir string, c keyenv.Config, id uint64) []byte {
	t.Helper()
	ctx := context.Background()
	mk, err := keyenv.OpenMasterKeys(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()
	kd, _, err := keydict.Load(ctx, fsys.OS(), filepath.Join(dir, dict.KeyDictName), mk)
	if err != nil {
		t.Fatal(err)
	}
	defer kd.Release()
	k, ok := kd.Get(id)
	if !ok {
		t.Fatalf("data key %d is not in the key dictionary", id)
	}
	return slices.Clone(k.Bytes())
}
