package keyenv

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkSealUnseal seals and opens a 4 KiB key dictionary.
func BenchmarkSealUnseal(b *testing.B) {
	secret := make([]byte, 4096)
	for _, kind := range []string{"file", "plaintext"} {
		b.Run(kind, func(b *testing.B) {
			var be Backend = Plaintext()
			if kind == "file" {
				path := filepath.Join(b.TempDir(), "master.key")
				writeHexKey(b, path, make([]byte, 32))
				var err error
				if be, err = OpenKeyFile(path); err != nil {
					b.Fatal(err)
				}
				defer be.Close()
			}
			ctx := context.Background()
			b.SetBytes(int64(len(secret)))
			for b.Loop() {
				blob, err := be.Seal(ctx, "key-dictionary", secret)
				if err != nil {
					b.Fatal(err)
				}
				s, err := be.Unseal(ctx, "key-dictionary", blob)
				if err != nil {
					b.Fatal(err)
				}
				s.Release()
			}
		})
	}
}

// BenchmarkOpenKeyring is the cost of a keyring's password with the
// default argon2id parameters: paid at open and at ChangePassword only.
func BenchmarkOpenKeyring(b *testing.B) {
	path := filepath.Join(b.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("pw"), DefaultKDFParams)
	if err != nil {
		b.Fatal(err)
	}
	kr.AddKey("k")
	kr.Close()
	for b.Loop() {
		k, err := OpenKeyring(path, []byte("pw"))
		if err != nil {
			b.Fatal(err)
		}
		k.Close()
	}
}
