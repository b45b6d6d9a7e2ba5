package leveldbstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/leveldbstore"
)

// Open a goleveldb DB that encrypts every file with SM4, configured from
// a TiKV-style TOML file with a key-file master key: OpenDB in place of
// leveldb.OpenFile.
func ExampleOpenDB() {
	root, _ := os.MkdirTemp("", "leveldbstore-example")
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
	dir := filepath.Join(root, "state.db")
	db, err := leveldbstore.OpenDB(context.Background(), dir, cfg, nil, nil) // nil: the OS, goleveldb's defaults
	if err != nil {
		fmt.Println(err)
		return
	}
	db.Put([]byte("height/1"), []byte("hello, encrypted goleveldb"), nil)
	v, _ := db.Get([]byte("height/1"), nil)
	fmt.Printf("%s\n", v)

	// Every file but LOCK has an SM4 entry in the dictionary.
	entries, _ := os.ReadDir(dir)
	methods := map[string]bool{}
	for _, f := range entries {
		if e, ok, _ := db.Storage.Manager().Lookup(f.Name()); ok {
			methods[e.Method.String()] = true
		} else if f.Name() != "LOCK" && f.Name() != "key.dict" && f.Name() != "file.dict" && f.Name() != "dict.lock" {
			methods["no entry: "+f.Name()] = true
		}
	}
	fmt.Println(methods)
	db.Close()
	// Output:
	// hello, encrypted goleveldb
	// map[sm4-ctr:true]
}
