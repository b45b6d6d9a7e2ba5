package dict_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
)

// Open a data directory with SM4 encryption under a key-file master key,
// write a file and read it back; on disk it is ciphertext of the same size.
func ExampleOpen() {
	root, _ := os.MkdirTemp("", "dict-example")
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o755)
	keyFile := filepath.Join(root, "master.key")
	os.WriteFile(keyFile, []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)

	cfg := keyenv.DefaultConfig()
	cfg.DataEncryptionMethod = ctr.SM4CTR
	cfg.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyFile}
	m, err := dict.Open(context.Background(), dataDir, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	f, _ := m.Create("000001.sst")
	f.Write([]byte("hello, encrypted world"))
	f.Sync()
	f.Close()

	f, _ = m.Open("000001.sst")
	plain, _ := io.ReadAll(f)
	f.Close()
	raw, _ := os.ReadFile(filepath.Join(dataDir, "000001.sst"))
	e, _, _ := m.Lookup("000001.sst")
	fmt.Printf("%s\n%s, %d bytes on disk, ciphertext: %v\n", plain, e.Method, len(raw), string(raw) != string(plain))
	// Output:
	// hello, encrypted world
	// sm4-ctr, 22 bytes on disk, ciphertext: true
}

// A tool rewrites a file under the current data key with Maintenance's
// primitives (package operator's Reencrypt does this, at a rate limit):
// after a data-key rotation the file's entry names the new key, and its
// content is what it was.
func ExampleMaintenance_Rewrite() {
	root, _ := os.MkdirTemp("", "dict-example")
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o755)
	keyFile := filepath.Join(root, "master.key")
	os.WriteFile(keyFile, []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	cfg := keyenv.DefaultConfig()
	cfg.DataEncryptionMethod = ctr.AES256CTR
	cfg.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyFile}
	ctx := context.Background()
	m, err := dict.Open(ctx, dataDir, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	f, _ := m.Create("000001.sst")
	f.Write([]byte("an immutable table"))
	f.Close()
	m.RotateDataKey(ctx)

	mt := m.Maintenance()
	err = mt.Rewrite(ctx, "000001.sst", func(r *dict.Rewriting) (int64, error) {
		buf := make([]byte, r.Size)
		if _, err := r.Src.ReadAt(buf, 0); err != nil && err != io.EOF {
			return 0, err
		}
		n, err := r.Dst.WriteAt(buf, 0)
		return int64(n), err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, current := m.DataKeys()
	for name, e := range mt.Entries() {
		f, _ := m.Open(name)
		b, _ := io.ReadAll(f)
		f.Close()
		fmt.Printf("%s: %q, %s, under the current key: %v\n", name, b, e.Method, e.KeyID == current)
	}
	// Output:
	// 000001.sst: "an immutable table", aes256-ctr, under the current key: true
}
