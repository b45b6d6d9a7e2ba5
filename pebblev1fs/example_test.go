package pebblev1fs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/pebblev1fs"
	"github.com/cockroachdb/pebble"
)

// Open a Pebble v1 DB that encrypts every file with AES-128-CTR,
// configured from a TiKV-style TOML file with a key-file master key.
func ExampleOpenDB() {
	root, _ := os.MkdirTemp("", "pebblev1fs-example")
	defer os.RemoveAll(root)
	keyFile := filepath.Join(root, "master.key")
	os.WriteFile(keyFile, []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	configFile := filepath.Join(root, "encryption.toml")
	os.WriteFile(configFile, []byte(`
[security.encryption]
data-encryption-method = "aes128-ctr"
data-key-rotation-period = "7d"
[security.encryption.master-key]
type = "file"
path = "`+keyFile+`"
`), 0o600)

	cfg, err := keyenv.LoadConfig(configFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir := filepath.Join(root, "chaindata")
	db, err := pebblev1fs.OpenDB(context.Background(), dir, cfg, nil, nil) // nil: vfs.Default, Pebble's defaults
	if err != nil {
		fmt.Println(err)
		return
	}
	db.Set([]byte("block/1"), []byte("hello, encrypted Pebble v1"), pebble.Sync)
	db.Flush()
	v, closer, _ := db.Get([]byte("block/1"))
	fmt.Printf("%s\n", v)
	closer.Close()

	// Every file but the lock file has an AES-128 entry in the dictionary.
	names, _ := db.FS.List(dir)
	methods := map[string]bool{}
	for _, name := range names {
		if name != "LOCK" {
			e, _, _ := db.FS.Manager().Lookup(name)
			methods[e.Method.String()] = true
		}
	}
	fmt.Println(methods)
	db.Close()
	// Output:
	// hello, encrypted Pebble v1
	// map[aes128-ctr:true]
}
