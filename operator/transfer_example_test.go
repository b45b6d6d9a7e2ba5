package operator_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/operator"
)

// openDataDir makes a data directory with a master key file of its own
// under root and opens it with method.
func openDataDir(root, name, hexKey string, method ctr.Method) (*dict.Manager, error) {
	dir := filepath.Join(root, name)
	os.Mkdir(dir, 0o755)
	keyFile := filepath.Join(root, name+".key")
	os.WriteFile(keyFile, []byte(hexKey+"\n"), 0o600)
	cfg := keyenv.DefaultConfig()
	cfg.DataEncryptionMethod = method
	cfg.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyFile}
	return dict.Open(context.Background(), dir, cfg)
}

// Move an encrypted file from one data directory to another whose master
// key differs: export it with a transfer key, copy the file as it is on
// disk, and import the document with the transfer key on the other side.
func ExampleExport() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "dict-transfer-example")
	defer os.RemoveAll(root)

	src, err := openDataDir(root, "src", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", ctr.SM4CTR)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	f, _ := src.Create("000042.sst")
	f.Write([]byte("rows of a table"))
	f.Close()

	// The document holds the file's entry and its data key, sealed under
	// the transfer key; the operator keeps the key apart from it.
	var doc bytes.Buffer
	transferKey, err := operator.Export(ctx, src, []string{"000042.sst"}, &doc)
	if err != nil {
		fmt.Println(err)
		return
	}

	dst, err := openDataDir(root, "dst", "f0e0d0c0b0a090807060504030201000f0e0d0c0b0a090807060504030201000", ctr.AES256CTR)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dst.Close()
	raw, _ := os.ReadFile(filepath.Join(src.Dir(), "000042.sst"))
	os.WriteFile(filepath.Join(dst.Dir(), "000042.sst"), raw, 0o644)

	names, err := operator.Import(ctx, dst, &doc, transferKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ = dst.Open("000042.sst")
	plain, _ := io.ReadAll(f)
	f.Close()
	e, _, _ := dst.Lookup("000042.sst")
	fmt.Printf("imported %v: %q, %s, %d-byte transfer key\n", names, plain, e.Method, len(transferKey))
	// Output:
	// imported [000042.sst]: "rows of a table", sm4-ctr, 32-byte transfer key
}
