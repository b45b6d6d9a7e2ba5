package operator_test

import (
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

// Files written under AES-128 are moved to SM4 after the configuration
// changes: reopen with the new method, then re-encrypt in the background
// at a bounded rate. A second run finds nothing left to do, which is also
// how a run interrupted by a restart resumes.
func ExampleReencryptAll() {
	root, _ := os.MkdirTemp("", "dict-reencrypt-example")
	defer os.RemoveAll(root)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o755)
	keyFile := filepath.Join(root, "master.key")
	os.WriteFile(keyFile, []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	cfg := keyenv.DefaultConfig()
	cfg.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyFile}
	ctx := context.Background()

	cfg.DataEncryptionMethod = ctr.AES128CTR
	m, err := dict.Open(ctx, dataDir, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"000001.sst", "000002.sst"} {
		f, _ := m.Create(name)
		f.Write([]byte("rows of " + name))
		f.Sync()
		f.Close()
	}
	m.Close()

	cfg.DataEncryptionMethod = ctr.SM4CTR
	m, err = dict.Open(ctx, dataDir, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	p, err := operator.ReencryptAll(ctx, m, operator.ReencryptOptions{
		Rate: 50 << 20, // bytes per second
		Progress: func(p dict.ReencryptProgress) {
			if !p.Running {
				fmt.Printf("done: %d of %d files, %d bytes\n", p.FilesDone, p.FilesTotal, p.BytesDone)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _, _ := m.Lookup("000001.sst")
	f, _ := m.Open("000001.sst")
	content, _ := io.ReadAll(f)
	f.Close()
	fmt.Printf("%s: %s, %q\n", "000001.sst", e.Method, content)

	p, _ = operator.ReencryptAll(ctx, m, operator.ReencryptOptions{})
	fmt.Println("left for a second run:", p.FilesTotal)
	// Output:
	// done: 2 of 2 files, 36 bytes
	// 000001.sst: sm4-ctr, "rows of 000001.sst"
	// left for a second run: 0
}
