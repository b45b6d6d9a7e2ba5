package dict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// statsOf calls Stats and fails the test on an error.
func statsOf(t *testing.T, m *Manager) Stats {
	t.Helper()
	s, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

// statsFromDictionary counts what Stats derives from refs by walking the
// file dictionary instead: the slow, obviously right way.
func statsFromDictionary(m *Manager) (byMethod map[ctr.Method]int, byKey map[uint64]int) {
	byMethod, byKey = make(map[ctr.Method]int), make(map[uint64]int)
	m.files.Range(func(_ string, e Entry) bool {
		byMethod[e.Method]++
		if e.Method != ctr.Plaintext {
			byKey[e.KeyID]++
		}
		return true
	})
	return byMethod, byKey
}

// checkStatsCounts compares the counts of s with a walk of the file
// dictionary, and the sizes with the files on disk.
func checkStatsCounts(t *testing.T, m *Manager, s Stats) {
	t.Helper()
	byMethod, byKey := statsFromDictionary(m)
	if !maps.Equal(s.FilesByMethod, byMethod) {
		t.Errorf("FilesByMethod = %v, the dictionary holds %v", s.FilesByMethod, byMethod)
	}
	if !maps.Equal(s.FilesByKey, byKey) {
		t.Errorf("FilesByKey = %v, the dictionary holds %v", s.FilesByKey, byKey)
	}
	if n := m.files.Len(); s.Files != n {
		t.Errorf("Files = %d, the dictionary holds %d", s.Files, n)
	}
	for name, got := range map[string]int64{KeyDictName: s.KeyDictionaryBytes, FileDictName: s.FileDictionaryBytes} {
		st, err := os.Stat(filepath.Join(m.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		// file.dict's contents are followed by zeros while it is open.
		if got == 0 || got > st.Size() || name == KeyDictName && got != st.Size() {
			t.Errorf("size of %s = %d, os.Stat says %d", name, got, st.Size())
		}
	}
	if s.FileDictionaryBytes != s.FileDictionary.FileSize {
		t.Errorf("FileDictionaryBytes = %d, the file dictionary counts %d", s.FileDictionaryBytes, s.FileDictionary.FileSize)
	}
}

func TestStatsNeverEncrypted(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.Plaintext)
	defer m.Close()
	writeFile(t, m, "plain.sst", []byte("hello"))
	s := statsOf(t, m)
	if s.Initialized || s.Method != ctr.Plaintext || s.DataKeys != 0 || s.CurrentKeyID != 0 || len(s.Keys) != 0 {
		t.Errorf("never-encrypted directory: %+v", s)
	}
	if s.Files != 0 || len(s.FilesByMethod) != 0 || len(s.FilesByKey) != 0 || s.KeyDictionaryBytes != 0 || s.FileDictionaryBytes != 0 {
		t.Errorf("never-encrypted directory counts files or dictionaries: %+v", s)
	}
	if _, ok := s.CurrentKey(); ok {
		t.Error("CurrentKey found a key in a never-encrypted directory")
	}
	// The master key is opened (a later start may encrypt) but never used.
	if s.MasterKey.Kind != keyenv.KindFile || s.MasterKey.ID == "" || s.MasterKey.Calls != 0 {
		t.Errorf("MasterKey = %+v, want the file backend and no calls", s.MasterKey)
	}
}

func TestStatsCountsPerMethodAndKey(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	s := statsOf(t, m)
	if !s.Initialized || s.DataKeys != 1 || s.Files != 0 || s.Rotation.DataKeyRotations != 0 {
		t.Fatalf("fresh directory: %+v", s)
	}
	// The first start seals a new key dictionary.
	if s.MasterKey.Calls != 1 || s.MasterKey.Errors != 0 || s.MasterKey.Total <= 0 || s.MasterKey.Last <= 0 {
		t.Errorf("MasterKey after the first start = %+v, want one timed call", s.MasterKey)
	}
	for i := range 3 {
		writeFile(t, m, fmt.Sprintf("aes-%d.sst", i), content("aes", 100))
	}
	_, aesKey := m.DataKeys()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A new method rotates the data key at open; the AES key stays for
	// the files that use it.
	m = env.open(ctr.SM4CTR)
	defer m.Close()
	writeFile(t, m, "sm4-0.sst", content("sm4", 100))
	writeFile(t, m, "sm4-1.sst", content("sm4", 100))
	s = statsOf(t, m)
	checkStatsCounts(t, m, s)
	_, sm4Key := m.DataKeys()
	if want := map[ctr.Method]int{ctr.AES128CTR: 3, ctr.SM4CTR: 2}; !maps.Equal(s.FilesByMethod, want) {
		t.Errorf("FilesByMethod = %v, want %v", s.FilesByMethod, want)
	}
	if want := map[uint64]int{aesKey: 3, sm4Key: 2}; !maps.Equal(s.FilesByKey, want) {
		t.Errorf("FilesByKey = %v, want %v", s.FilesByKey, want)
	}
	if s.Method != ctr.SM4CTR || s.DataKeys != 2 || len(s.Keys) != 2 || s.CurrentKeyID != sm4Key || s.Files != 5 || s.FilesWithoutKey != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if k, ok := s.CurrentKey(); !ok || k.ID != sm4Key || k.Method != ctr.SM4CTR || !k.Created.Equal(env.Now()) || k.Exposed {
		t.Errorf("CurrentKey = %+v, %v", k, ok)
	}
	if s.Keys[0].ID > s.Keys[1].ID {
		t.Errorf("Keys not ordered by id: %+v", s.Keys)
	}
	// Opening unsealed the key dictionary, the rotation sealed it.
	if s.Rotation.DataKeyRotations != 1 || s.MasterKey.Calls != 2 {
		t.Errorf("after a rotation at open: Rotation = %+v, MasterKey = %+v", s.Rotation, s.MasterKey)
	}
	if s.FileDictionary.Entries != 5 || s.FileDictionary.Version != 3 || s.FileDictionary.LogRecords == 0 {
		t.Errorf("FileDictionary = %+v", s.FileDictionary)
	}

	calls := s.MasterKey.Calls
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = statsOf(t, m)
	if s.Rotation.DataKeyRotations != 2 || s.MasterKey.Calls != calls+1 || s.DataKeys != 3 || s.CurrentKeyID == sm4Key {
		t.Errorf("after RotateDataKey: %+v", s)
	}
	writeFile(t, m, "sm4-2.sst", content("sm4", 10))
	s = statsOf(t, m)
	checkStatsCounts(t, m, s)
	if s.FilesByKey[s.CurrentKeyID] != 1 || s.FilesByMethod[ctr.SM4CTR] != 3 {
		t.Errorf("after a file under the new key: %v, %v", s.FilesByKey, s.FilesByMethod)
	}

	// Removing the AES files drops their key.
	for i := range 3 {
		if err := m.Remove(fmt.Sprintf("aes-%d.sst", i)); err != nil {
			t.Fatal(err)
		}
	}
	m.DataKeys() // waits for the removals to reach the file dictionary
	s = statsOf(t, m)
	checkStatsCounts(t, m, s)
	if _, ok := s.FilesByMethod[ctr.AES128CTR]; ok || s.DataKeys != 2 || s.Files != 3 {
		t.Errorf("after removing the AES files: %+v", s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to plaintext: new files get plaintext entries, counted apart.
	m = env.open(ctr.Plaintext)
	defer m.Close()
	writeFile(t, m, "plain-0.sst", []byte("p"))
	writeFile(t, m, "plain-1.sst", []byte("p"))
	s = statsOf(t, m)
	checkStatsCounts(t, m, s)
	if s.FilesByMethod[ctr.Plaintext] != 2 || s.FilesByMethod[ctr.SM4CTR] != 3 || s.Files != 5 || s.Method != ctr.Plaintext || s.CurrentKeyID == 0 {
		t.Errorf("with plaintext entries: %+v", s)
	}
}

func TestStatsLogFormatOff(t *testing.T) {
	env := newEnv(t)
	cfg := env.config(ctr.AES256CTR)
	cfg.EnableFileDictionaryLog = false
	m, err := Open(context.Background(), env.dir, cfg, WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	writeFile(t, m, "a.sst", []byte("a"))
	s := statsOf(t, m)
	checkStatsCounts(t, m, s)
	if s.FileDictionary.Version != 1 || s.FileDictionary.LogRecords != 0 || s.FilesByMethod[ctr.AES256CTR] != 1 {
		t.Errorf("whole-file format: %+v", s)
	}
}

// statsFlakyBackend fails Seal while fail is set.
type statsFlakyBackend struct {
	keyenv.Backend
	fail *atomic.Bool
}

var errStatsSeal = errors.New("seal refused")

func (b statsFlakyBackend) Seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	if b.fail.Load() {
		return nil, errStatsSeal
	}
	return b.Backend.Seal(ctx, label, secret)
}

func TestStatsBackendErrors(t *testing.T) {
	env := newEnv(t)
	cfg := env.config(ctr.AES128CTR)
	mk, err := keyenv.OpenMasterKeys(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()
	var fail atomic.Bool
	flaky := &keyenv.MasterKeys{Current: statsFlakyBackend{mk.Current, &fail}}
	m, err := Open(context.Background(), env.dir, cfg, WithMasterKeys(flaky), WithClock(env.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	before := statsOf(t, m)
	fail.Store(true)
	if err := m.RotateDataKey(context.Background()); !errors.Is(err, errStatsSeal) {
		t.Fatalf("RotateDataKey with a failing backend: %v", err)
	}
	s := statsOf(t, m)
	if s.MasterKey.Calls != before.MasterKey.Calls+1 || s.MasterKey.Errors != 1 {
		t.Errorf("MasterKey after a failed seal = %+v (before %+v)", s.MasterKey, before.MasterKey)
	}
	if s.Rotation.DataKeyRotations != 0 || s.DataKeys != 1 || s.CurrentKeyID != before.CurrentKeyID {
		t.Errorf("a failed rotation shows: %+v", s)
	}
}

func TestStatsMissingDictionaryFile(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	writeFile(t, m, "a.sst", []byte("a"))
	if err := os.Remove(filepath.Join(env.dir, KeyDictName)); err != nil {
		t.Fatal(err)
	}
	s, err := m.Stats()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stats without key.dict: %v", err)
	}
	// Everything but the missing size is still there.
	if !s.Initialized || s.DataKeys != 1 || s.Files != 1 || s.KeyDictionaryBytes != 0 || s.FileDictionaryBytes == 0 {
		t.Errorf("Stats without key.dict = %+v", s)
	}
}

func TestStatsClosed(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stats after Close: %v, want ErrClosed", err)
	}
}

// TestStatsConcurrent runs Stats against creates, removes and rotations
// (for the race detector) and checks what no interleaving may break.
func TestStatsConcurrent(t *testing.T) {
	env := newEnv(t)
	m := env.open(ctr.AES128CTR)
	defer m.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d.sst", w, i%8)
				// Not writeFile: t.Fatal belongs to the test's goroutine.
				f, err := m.Create(name)
				if err != nil {
					t.Error(err)
					return
				}
				f.Close()
				if i%3 == 0 {
					_ = m.Remove(name)
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := m.RotateDataKey(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	for range 200 {
		s := statsOf(t, m)
		if s.FilesWithoutKey != 0 {
			t.Fatalf("a count names a key Keys lacks: %v, keys %+v", s.FilesByKey, s.Keys)
		}
		if _, ok := s.CurrentKey(); !ok || s.DataKeys != len(s.Keys) {
			t.Fatalf("no current key or DataKeys off: %+v", s)
		}
	}
	close(stop)
	wg.Wait()
	m.DataKeys()
	checkStatsCounts(t, m, statsOf(t, m))
}
