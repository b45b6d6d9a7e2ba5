package keydict

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/fsys"
	"github.com/atrest/atrest/keyenv"
)

func fileKeys(t *testing.T, hexKey string) *keyenv.MasterKeys {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(p, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := keyenv.OpenKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &keyenv.MasterKeys{Current: b}
}

var (
	hexA = strings.Repeat("a1", 32)
	hexB = strings.Repeat("b2", 32)
)

func TestSaveLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.dict")
	d := New()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var made []*Key
	for _, m := range []ctr.Method{ctr.AES128CTR, ctr.AES192CTR, ctr.AES256CTR, ctr.SM4CTR} {
		k, err := d.NewKey(m, now)
		if err != nil {
			t.Fatal(err)
		}
		if k.ID == 0 || len(k.Bytes()) != m.KeySize() || d.Current != k.ID {
			t.Fatalf("%v: key %+v", m, k)
		}
		made = append(made, k)
	}
	mk := fileKeys(t, hexA)
	if err := d.Save(ctx, osfs, path, mk); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, k := range made {
		if bytes.Contains(raw, k.Bytes()) || bytes.Contains(raw, []byte(hex.EncodeToString(k.Bytes()))) {
			t.Fatal("a data key is visible in the sealed file")
		}
	}
	got, resealed, err := Load(ctx, osfs, path, mk)
	if err != nil || resealed {
		t.Fatal(err, resealed)
	}
	defer got.Release()
	if got.Current != d.Current || got.Len() != 4 {
		t.Fatalf("current %d len %d", got.Current, got.Len())
	}
	for _, k := range made {
		g, ok := got.Get(k.ID)
		if !ok || g.Method != k.Method || !g.Created.Equal(now) || g.Exposed || !bytes.Equal(g.Bytes(), k.Bytes()) {
			t.Fatalf("key %d: %+v", k.ID, g)
		}
	}
	if _, err := d.NewKey(ctr.Plaintext, now); err == nil {
		t.Fatal("made a plaintext key")
	}
}

// Keys stored under a plaintext master key are marked exposed, in the
// file itself.
func TestExposure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.dict")
	d := New()
	d.NewKey(ctr.AES128CTR, time.Now())
	plain := &keyenv.MasterKeys{Current: keyenv.Plaintext()}
	if err := d.Save(ctx, osfs, path, plain); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(ctx, osfs, path, plain)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := got.CurrentKey(); !k.Exposed {
		t.Fatal("a key stored under plaintext is not marked exposed")
	}
	// Moving to a secure master key keeps the mark (the key was seen).
	secure := fileKeys(t, hexA)
	secure.Previous = keyenv.Plaintext()
	again, resealed, err := Load(ctx, osfs, path, secure)
	if err != nil || !resealed {
		t.Fatal(err, resealed)
	}
	if k, _ := again.CurrentKey(); !k.Exposed {
		t.Fatal("exposure forgotten")
	}
	// The resealed file opens with the secure key alone.
	if _, _, err := Load(ctx, osfs, path, fileKeys(t, hexA)); err != nil {
		t.Fatal(err)
	}
	// And a secure key moving to plaintext (previous secure) marks them.
	d2 := New()
	d2.NewKey(ctr.SM4CTR, time.Now())
	d2.Save(ctx, osfs, path, fileKeys(t, hexB))
	down := &keyenv.MasterKeys{Current: keyenv.Plaintext(), Previous: fileKeys(t, hexB).Current}
	got2, resealed, err := Load(ctx, osfs, path, down)
	if err != nil || !resealed {
		t.Fatal(err)
	}
	if k, _ := got2.CurrentKey(); !k.Exposed {
		t.Fatal("not marked exposed after moving to a plaintext master key")
	}
	got3, _, _ := Load(ctx, osfs, path, &keyenv.MasterKeys{Current: keyenv.Plaintext()})
	if k, _ := got3.CurrentKey(); !k.Exposed {
		t.Fatal("exposure not stored in the file")
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, _, err := Load(ctx, osfs, filepath.Join(dir, "missing"), fileKeys(t, hexA))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	path := filepath.Join(dir, "key.dict")
	d := New()
	d.NewKey(ctr.AES256CTR, time.Now())
	d.Save(ctx, osfs, path, fileKeys(t, hexA))
	_, _, err = Load(ctx, osfs, path, fileKeys(t, hexB))
	if !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("wrong master key: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	d := New()
	d.NewKey(ctr.AES128CTR, time.Now())
	d.NewKey(ctr.SM4CTR, time.Now())
	plain, err := d.encode()
	if err != nil {
		t.Fatal(err)
	}
	good := bytes.Clone(plain.Bytes())
	plain.Release()
	if back, err := decode(good); err != nil || back.Len() != 2 {
		t.Fatalf("round trip: %v", err)
	}
	first := headerBytes // the first key record
	for _, tt := range []struct {
		name string
		mod  func([]byte) []byte
		want error
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrCorrupt},
		{"version", func(b []byte) []byte { b[4] = 3; return b }, ErrUnknownVersion},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, ErrCorrupt},
		{"trailing", func(b []byte) []byte { return append(b, 0) }, ErrCorrupt},
		{"count too high", func(b []byte) []byte { b[16]++; return b }, ErrCorrupt},
		{"zero id", func(b []byte) []byte { clear(b[first : first+8]); return b }, ErrCorrupt},
		{"plaintext method", func(b []byte) []byte { b[first+8] = byte(ctr.Plaintext); return b }, ErrCorrupt},
		{"bad flags", func(b []byte) []byte { b[first+17] = 0x80; return b }, ErrCorrupt},
		{"current missing", func(b []byte) []byte { b[5] ^= 0xff; return b }, ErrCorrupt},
	} {
		_, err := decode(tt.mod(bytes.Clone(good)))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	_, err = decode(append(good[:4:4], 9))
	if err == nil || !strings.Contains(err.Error(), "unknown version 9") {
		t.Errorf("version message: %v", err)
	}
}

func TestDrop(t *testing.T) {
	d := New()
	old, _ := d.NewKey(ctr.AES128CTR, time.Now())
	held := old.Bytes()
	cur, _ := d.NewKey(ctr.AES128CTR, time.Now())
	if old.ID == cur.ID {
		t.Fatal("ids collide")
	}
	if err := d.Drop(cur.ID); err == nil {
		t.Fatal("dropped the current key")
	}
	if err := d.Drop(old.ID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(held, make([]byte, len(held))) {
		t.Fatal("dropped key not zeroed")
	}
	if _, ok := d.Get(old.ID); ok {
		t.Fatal("dropped key still there")
	}
	if err := d.Drop(old.ID); !errors.Is(err, ErrNoKey) {
		t.Fatalf("drop twice: %v", err)
	}
	// Many keys: ids never 0, never repeated.
	seen := map[uint64]bool{}
	for range 2000 {
		k, err := d.NewKey(ctr.SM4CTR, time.Now())
		if err != nil || k.ID == 0 || seen[k.ID] {
			t.Fatalf("id %d", k.ID)
		}
		seen[k.ID] = true
	}
	d.Release()
}

// osfs is the file system the tests' dictionaries live on.
var osfs = fsys.OS()

// TestLoadReadOnly: a dictionary only the previous master key opens loads
// through a read-only view with its keys, but is not stored again (the
// file keeps every byte, and resealed is false); the same load on the
// writable file system reseals it.
func TestLoadReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.dict")
	d := New()
	k, _ := d.NewKey(ctr.AES256CTR, time.Now())
	if err := d.Save(ctx, osfs, path, fileKeys(t, hexA)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	rotating := fileKeys(t, hexB)
	rotating.Previous = fileKeys(t, hexA).Current
	got, resealed, err := Load(ctx, fsys.ReadOnly(osfs), path, rotating)
	if err != nil || resealed {
		t.Fatalf("read-only load: resealed %v, %v", resealed, err)
	}
	if g, ok := got.Get(k.ID); !ok || !bytes.Equal(g.Bytes(), k.Bytes()) {
		t.Fatal("read-only load lost the key")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only load changed the file")
	}
	if _, resealed, err := Load(ctx, osfs, path, rotating); err != nil || !resealed {
		t.Fatalf("writable load: resealed %v, %v", resealed, err)
	}
	if _, _, err := Load(ctx, osfs, path, fileKeys(t, hexB)); err != nil {
		t.Fatalf("the resealed file does not open with the new key alone: %v", err)
	}
}
