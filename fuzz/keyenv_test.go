package fuzz

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/keyenv"
)

const fuzzLabel = "key-dictionary"

var fuzzSecret = []byte("a small key dictionary for the fuzzer")

// FuzzSealedBlob feeds arbitrary bytes to the sealed-blob parser and to
// Unseal on a key-file and a plaintext backend. Nothing may panic, and a
// blob that opens must yield exactly the secret the seed corpus sealed:
// authentication leaves no other way.
func FuzzSealedBlob(f *testing.F) {
	dir := f.TempDir()
	keyPath := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyPath, []byte("6b6579206b6579206b6579206b6579206b6579206b6579206b6579206b657920\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	file, err := keyenv.OpenKeyFile(keyPath)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range []keyenv.Backend{file, keyenv.Plaintext()} {
		blob, err := b.Seal(ctx, fuzzLabel, fuzzSecret)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
	}
	f.Add([]byte("ATSB\x01\x02\x01x\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sb, perr := keyenv.ParseSealedBlob(data)
		for _, b := range []keyenv.Backend{file, keyenv.Plaintext()} {
			s, err := b.Unseal(ctx, fuzzLabel, data)
			if err != nil {
				continue
			}
			got := bytes.Clone(s.Bytes())
			s.Release()
			if perr != nil || sb.Kind != b.Kind() {
				t.Fatalf("%s opened a blob the parser refuses (%v)", b.ID(), perr)
			}
			if b.Secure() && !bytes.Equal(got, fuzzSecret) {
				t.Fatalf("%s opened a forged blob to %q", b.ID(), got)
			}
		}
	})
}

// FuzzKeyringFile feeds arbitrary bytes to OpenKeyring as a keyring file,
// with argon2id bounded to what a fuzzer can afford. Nothing may panic, and
// a file that opens must list exactly the seed keyring's keys.
func FuzzKeyringFile(f *testing.F) {
	dir := f.TempDir()
	seedPath := filepath.Join(dir, "seed")
	params := keyenv.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	kr, err := keyenv.CreateKeyring(seedPath, []byte("pw"), params)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"tikv", "backup"} {
		if _, err := kr.AddKey(name); err != nil {
			f.Fatal(err)
		}
	}
	kr.RotateKey("tikv")
	want := kr.Keys()
	kr.Close()
	seed, err := os.ReadFile(seedPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:50])
	f.Add([]byte("ATKR\x01"))
	limits := keyenv.WithKDFLimits(keyenv.KDFLimits{MaxTime: 2, MaxMemoryKiB: 256})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "keyring")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := keyenv.OpenKeyring(path, []byte("pw"), limits)
		if err != nil {
			return
		}
		defer k.Close()
		got := k.Keys()
		if len(got) != len(want) {
			t.Fatalf("opened a forged keyring with keys %v", got)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("opened a forged keyring with keys %v", got)
			}
		}
	})
}
