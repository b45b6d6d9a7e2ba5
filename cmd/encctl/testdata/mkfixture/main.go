// Command mkfixture writes the fixture compare.sh runs encctl on: under
// the directory it is given, master keys, configurations and data
// directories with files written through a dict.Manager (the engine's
// API, the same before and after the operator's features left dict).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/keyenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkfixture DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mkfixture:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	for i, name := range []string{"master.key", "new.key"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(strings.Repeat(fmt.Sprintf("%02x", 0x30+i), 32)+"\n"), 0o600); err != nil {
			return err
		}
	}
	configs := map[string]string{
		"aes.toml":   config("aes128-ctr", filepath.Join(root, "master.key")),
		"sm4.toml":   config("sm4-ctr", filepath.Join(root, "master.key")),
		"plain.toml": config("plaintext", filepath.Join(root, "master.key")),
		"new.toml":   config("aes128-ctr", filepath.Join(root, "new.key")),
		"bad.toml":   "[security.encryption]\ndata-encryption-method = \"rot13\"\n",
	}
	for name, text := range configs {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	// data: encrypted files, a plaintext one, a gone one; other: an
	// encrypted directory to import into; empty: never encrypted.
	for _, d := range []string{"data/sub", "other", "empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "data", "plain.txt"), []byte("written before encryption\n"), 0o644); err != nil {
		return err
	}
	cfg, err := keyenv.LoadConfig(filepath.Join(root, "aes.toml"))
	if err != nil {
		return err
	}
	for _, d := range []struct {
		dir   string
		files []string
	}{
		{"data", []string{"a.sst", "b.sst", "sub/c.log", "gone.sst"}},
		{"other", []string{"own.sst"}},
	} {
		if err := write(filepath.Join(root, d.dir), cfg, d.files); err != nil {
			return err
		}
	}
	return os.Remove(filepath.Join(root, "data", "gone.sst"))
}

func config(method, key string) string {
	return fmt.Sprintf("[security.encryption]\ndata-encryption-method = %q\n[security.encryption.master-key]\ntype = \"file\"\npath = %q\n", method, key)
}

// write creates the files in dir, each holding its name many times.
func write(dir string, cfg keyenv.Config, files []string) error {
	if cfg.DataEncryptionMethod == ctr.Plaintext {
		return fmt.Errorf("%s: the fixture wants encrypted files", dir)
	}
	m, err := dict.Open(context.Background(), dir, cfg)
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := m.Create(name)
		if err != nil {
			return err
		}
		if _, err := f.Write([]byte(strings.Repeat(name+"\n", 1000))); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return m.Close()
}
