package pebblefs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/pebblefs"
	"github.com/cockroachdb/pebble/v2"
)

// Open a Pebble DB that encrypts every file with SM4, configured from a
// TiKV-style TOML file with a key-file master key.
func ExampleOpen() {
	root, _ := os.MkdirTemp("", "pebblefs-example")
	defer os.RemoveAll(root)
	keyFile := filepath.Join(root, "master.key")
	os.WriteFile(keyFile, []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	configFile := filepath.Join(root, "encryption.toml")
	os.WriteFile(configFile, []byte(`
[security.encryption]
data-encryption-method = "sm4-ctr"
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
	dir := filepath.Join(root, "db")
	efs, err := pebblefs.Open(context.Background(), dir, cfg, nil) // nil: vfs.Default
	if err != nil {
		fmt.Println(err)
		return
	}
	defer efs.Close()
	db, err := pebble.Open(dir, &pebble.Options{FS: efs})
	if err != nil {
		fmt.Println(err)
		return
	}
	db.Set([]byte("region/1"), []byte("hello, encrypted Pebble"), pebble.Sync)
	db.Flush()
	v, closer, _ := db.Get([]byte("region/1"))
	fmt.Printf("%s\n", v)
	closer.Close()
	db.Close()

	// Every file but the lock file has an SM4 entry in the dictionary.
	names, _ := efs.List(dir)
	methods := map[string]bool{}
	for _, name := range names {
		if name != "LOCK" {
			e, _, _ := efs.Manager().Lookup(name)
			methods[e.Method.String()] = true
		}
	}
	fmt.Println(methods)
	// Output:
	// hello, encrypted Pebble
	// map[sm4-ctr:true]
}
