package awskms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
)

func managerConfig(mk keyenv.MasterKeyConfig) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = ctr.AES256CTR
	c.MasterKey = mk
	return c
}

// localKeys writes a key file and a keyring (password in
// ATREST_TEST_KEYRING_PW) in dir and returns their configurations.
func localKeys(t *testing.T, dir string) (file, keyring keyenv.MasterKeyConfig) {
	t.Helper()
	keyPath := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyPath, []byte(strings.Repeat("4e", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ringPath := filepath.Join(dir, "keyring")
	t.Setenv("ATREST_TEST_KEYRING_PW", "rotation password")
	kr, err := keyenv.CreateKeyring(ringPath, []byte("rotation password"), keyenv.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AddKey("tikv"); err != nil {
		t.Fatal(err)
	}
	kr.Close()
	return keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyPath},
		keyenv.MasterKeyConfig{Type: keyenv.KindKeyring, Path: ringPath, KeyID: "tikv", PasswordEnv: "ATREST_TEST_KEYRING_PW"}
}

// Online master-key rotation between backends of different vendors
// through the API: file → AWS KMS (moto) → keyring → AWS KMS → file. After
// each rotation the Manager is reopened with only the new key
// configured; every file written so far reads back, the key dictionary
// records the new key, and the old key alone no longer opens it.
func TestRotateAcrossVendorsMoto(t *testing.T) {
	m := motoEnv(t)
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	file, keyring := localKeys(t, root)
	kmsKey := keyenv.MasterKeyConfig{Type: keyenv.KindKMS, KeyID: m.createKey(t, motoRegion), Region: motoRegion, Endpoint: m.URL}
	ctx := context.Background()
	opts := []dict.Option{dict.WithKeyenvOptions(fastKMS...)}

	mgr, err := dict.Open(ctx, dir, managerConfig(file), opts...)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	write := func(mgr *dict.Manager, name string) {
		files[name] = bytes.Repeat([]byte(name), 100)
		dicttest.WriteFile(t, mgr, name, files[name])
	}
	write(mgr, "under-file")
	cur := file
	for i, next := range []keyenv.MasterKeyConfig{kmsKey, keyring, kmsKey, file} {
		step := fmt.Sprintf("%d: %s → %s", i, cur.Type, next.Type)
		if err := operator.RotateMasterKey(ctx, mgr, next, fastKMS...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		write(mgr, fmt.Sprintf("after-%d-%s", i, next.Type))
		if err := mgr.Close(); err != nil {
			t.Fatal(err)
		}
		// The dictionary records the new key.
		blob, err := os.ReadFile(filepath.Join(dir, dict.KeyDictName))
		if err != nil {
			t.Fatal(err)
		}
		sb, err := keyenv.ParseSealedBlob(blob)
		if err != nil {
			t.Fatal(err)
		}
		if rec, named := sb.Record(); !named || rec.Kind != next.Type {
			t.Fatalf("%s: the key dictionary records %v", step, rec)
		}
		// The old key alone does not open it.
		if _, err := dict.Open(ctx, dir, managerConfig(cur), opts...); !errors.Is(err, keyenv.ErrWrongMasterKey) {
			t.Fatalf("%s: the old key alone: %v", step, err)
		}
		mgr, err = dict.Open(ctx, dir, managerConfig(next), opts...)
		if err != nil {
			t.Fatalf("%s: reopen with the new key alone: %v", step, err)
		}
		for name, want := range files {
			if got, err := dicttest.ReadFile(mgr, name); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %s: %v", step, name, err)
			}
		}
		if s, err := mgr.Stats(); err != nil || s.Rotation.MasterKeyRotations != 0 || s.MasterKey.Kind != next.Type {
			t.Fatalf("%s: stats %+v, %v", step, s.MasterKey, err)
		}
		cur = next
	}
	if err := mgr.Close(); err != nil {
		t.Fatal(err)
	}
}
