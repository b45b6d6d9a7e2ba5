package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/keyenv"
)

// TestHelpers checks what the shared helpers' doc comments promise: the
// key file holds FileKeyHex, the file backend round-trips through
// MustSeal and MustUnseal and refuses another label, WantOnly accepts an
// error of one class, and a FixedSource's blob records its KeyID and
// cannot be unsealed.
func TestHelpers(t *testing.T) {
	path := KeyFile(t)
	data, err := os.ReadFile(path)
	if err != nil || string(data) != FileKeyHex+"\n" {
		t.Fatalf("key file %q, %v; want FileKeyHex and a newline", data, err)
	}

	b := NewFileBackend(t)
	secret := []byte("dictionary key")
	blob := MustSeal(t, b, "label", secret)
	MustUnseal(t, b, "label", blob, secret)
	_, err = b.Unseal(context.Background(), "other", blob)
	WantErr(t, err, keyenv.ErrWrongLabel)
	WantOnly(t, err, keyenv.ErrWrongLabel)
	other, err := keyenv.OpenKeyFile(KeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if b.ID() == other.ID() {
		t.Errorf("two key files share the backend ID %q", b.ID())
	}

	src := FixedSource{Ref: []byte("made-up reference"), KeyID: "vendor key"}
	env := keyenv.NewEnvelope(src)
	fixed := MustSeal(t, env, "l", secret)
	if rec := record(t, fixed); rec.Kind != keyenv.KindKMS || !bytes.Equal(rec.Identity, []byte(src.KeyID)) {
		t.Errorf("FixedSource blob records %v %q, want kms %q", rec.Kind, rec.Identity, src.KeyID)
	}
	if !bytes.Contains(fixed, src.Ref) {
		t.Errorf("FixedSource blob does not hold its reference %q", src.Ref)
	}
	if s, err := env.Unseal(context.Background(), "l", fixed); err == nil {
		s.Release()
		t.Error("a FixedSource unsealed its blob")
	}
}

// TestRotationAndAddrs: CheckRotation passes between two key files of
// different keys; nothing answers at ClosedAddr; SilentAddr accepts a
// connection and says nothing.
func TestRotationAndAddrs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("a5", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other, err := keyenv.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	CheckRotation(t, NewFileBackend(t), other)
	CheckRotation(t, other, NewFileBackend(t))

	if c, err := net.DialTimeout("tcp", ClosedAddr(t), 2*time.Second); err == nil {
		c.Close()
		t.Error("a connection to ClosedAddr was accepted")
	}
	c, err := net.DialTimeout("tcp", SilentAddr(t), 2*time.Second)
	if err != nil {
		t.Fatalf("SilentAddr refused a connection: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("SilentAddr answered: %d bytes, %v", n, err)
	}
}

// TestConfigRotation: OpenConfig opens what a configuration names, and
// CheckConfigRotation passes from one key file to another named as the
// previous master key.
func TestConfigRotation(t *testing.T) {
	oldPath := KeyFile(t)
	newPath := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(newPath, []byte(strings.Repeat("c3", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	section := func(table, path string) string {
		return fmt.Sprintf("[security.encryption.%s]\ntype = \"file\"\npath = %q\n", table, path)
	}
	const header = "[security.encryption]\ndata-encryption-method = \"aes128-ctr\"\n"
	before := OpenConfig(t, header+section("master-key", oldPath))
	after := OpenConfig(t, header+section("master-key", newPath)+section("previous-master-key", oldPath))
	if after.Previous == nil || after.Previous.ID() != before.Current.ID() {
		t.Fatalf("previous master key %v, want %s", after.Previous, before.Current.ID())
	}
	CheckConfigRotation(t, before, after)
}

// TestOpenRegistered: a key file opens through the registry and
// round-trips.
func TestOpenRegistered(t *testing.T) {
	b := OpenRegistered(t, keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: KeyFile(t)})
	if b.Kind() != keyenv.KindFile {
		t.Fatalf("kind %v", b.Kind())
	}
}
