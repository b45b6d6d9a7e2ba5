package keyenv_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/keyenv"
)

// A master key from a key file seals the key dictionary; the blob opens
// only with that key and only under the same label.
func ExampleOpenKeyFile() {
	dir, _ := os.MkdirTemp("", "keyenv-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "master.key")
	// In production: openssl rand -hex 32 > master.key; chmod 600 master.key
	os.WriteFile(path, []byte("3b6d0f6a1fb7d1a2e4c5a0b9f8e7d6c5b4a39281706f5e4d3c2b1a0918273645\n"), 0o600)

	master, err := keyenv.OpenKeyFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer master.Close()
	ctx := context.Background()
	blob, _ := master.Seal(ctx, "key-dictionary", []byte("data keys"))
	secret, _ := master.Unseal(ctx, "key-dictionary", blob)
	defer secret.Release()
	fmt.Printf("%s, %s\n", secret.Bytes(), secret)
	// Output: data keys, keyenv.Secret(9 bytes)
}

// The [security.encryption] section of a TiKV configuration file.
func ExampleParseConfig() {
	c, err := keyenv.ParseConfig([]byte(`
[security.encryption]
data-encryption-method = "sm4-ctr"
data-key-rotation-period = "7d"
[security.encryption.master-key]
type = "kms"
key-id = "0987dcba-09fe-87dc-65ba-ab0987654321"
region = "us-west-2"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.DataEncryptionMethod, c.DataKeyRotationPeriod, c.MasterKey.Type, c.MasterKey.Region)

	_, err = keyenv.ParseConfig([]byte("[security.encryption]\ndata-key-rotation-period = \"1w\"\n"))
	fmt.Println(err)
	// Output:
	// sm4-ctr 168h0m0s kms us-west-2
	// keyenv: invalid encryption configuration: security.encryption.data-key-rotation-period = "1w": duration "1w": unknown unit "w" (ms, s, m, h or d)
}

// Master-key rotation the TiKV way: the new key in master-key, the old one
// in previous-master-key. The first open reseals with the new key; store the
// resealed blob and the old key is no longer needed.
func ExampleMasterKeys_Unseal() {
	dir, _ := os.MkdirTemp("", "keyenv-example")
	defer os.RemoveAll(dir)
	oldPath := filepath.Join(dir, "old.key")
	newPath := filepath.Join(dir, "new.key")
	os.WriteFile(oldPath, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600)
	os.WriteFile(newPath, []byte("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"), 0o600)
	ctx := context.Background()

	oldKey, _ := keyenv.OpenKeyFile(oldPath)
	stored, _ := oldKey.Seal(ctx, "key-dictionary", []byte("data keys"))
	oldKey.Close()

	c, _ := keyenv.ParseConfig([]byte(fmt.Sprintf(`
[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "file"
path = %q
[security.encryption.previous-master-key]
type = "file"
path = %q
`, newPath, oldPath)))
	keys, err := keyenv.OpenMasterKeys(ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer keys.Close()
	secret, resealed, err := keys.Unseal(ctx, "key-dictionary", stored)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer secret.Release()
	if resealed != nil {
		stored = resealed // write it back atomically in real code
	}
	again, _, _ := keys.Unseal(ctx, "key-dictionary", stored)
	defer again.Release()
	fmt.Printf("%s; resealed: %v\n", again.Bytes(), resealed != nil)
	// Output: data keys; resealed: true
}

// A password-protected keyring with versioned keys.
func ExampleCreateKeyring() {
	dir, _ := os.MkdirTemp("", "keyenv-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keyring")
	kr, err := keyenv.CreateKeyring(path, []byte("a long passphrase"), keyenv.DefaultKDFParams)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kr.Close()
	kr.AddKey("tikv")
	kr.RotateKey("tikv")
	for _, e := range kr.Keys() {
		fmt.Println(e.Name, e.Version)
	}
	// Output:
	// tikv 1
	// tikv 2
}
