package dict

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
)

// TestReplaceMasterKeyRacesClose replaces the master key while the Manager
// closes: whichever wins, the key dictionary on disk still holds the
// file's key.
func TestReplaceMasterKeyRacesClose(t *testing.T) {
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	a, b := testenv.FileMasterKey(t, root, "a.key", 0x44), testenv.FileMasterKey(t, root, "b.key", 0x55)
	ctx := context.Background()
	for i := range 20 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		m, err := Open(ctx, dir, keyConfig(from, &to))
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if i == 0 {
			writeFile(t, m, "f", []byte("survives"))
		}
		// Hold keyMu so that both rotations pass their first check and
		// queue for it, then let Close queue too: whoever gets keyMu
		// first, a rotation after Close's release of the keys must not
		// save the emptied dictionary.
		done := make(chan error, 3)
		m.keyMu.Lock()
		go func() {
			b, err := keyenv.OpenBackend(ctx, to)
			if err == nil {
				err = m.Maintenance().ReplaceMasterKey(ctx, to, b)
			}
			done <- err
		}()
		go func() { done <- m.RotateDataKey(ctx) }()
		time.Sleep(2 * time.Millisecond)
		go func() { done <- m.Close() }()
		time.Sleep(2 * time.Millisecond)
		m.keyMu.Unlock()
		for range 3 {
			if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		// Open with either key (the other as previous): the file reads.
		m, err = Open(ctx, dir, keyConfig(to, &from))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", i, err)
		}
		if got := readFile(t, m, "f"); string(got) != "survives" {
			t.Fatalf("round %d: read back %q", i, got)
		}
		m.Close()
	}
}

// keyConfig is a configuration with AES-256 data keys under master key mk
// (and prev, if given, as the previous one).
func keyConfig(mk keyenv.MasterKeyConfig, prev *keyenv.MasterKeyConfig) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = ctr.AES256CTR
	c.MasterKey, c.PreviousMasterKey = mk, prev
	return c
}
