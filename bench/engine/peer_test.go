package engine

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
)

// TestPeerIVs: Get keeps an IV, Fresh replaces it, Rename moves a file's
// IV and a directory's files' IVs, Link shares one, Forget drops one, and
// names are cleaned.
func TestPeerIVs(t *testing.T) {
	ivs := NewPeerIVs(rand.Reader)
	a, err := ivs.Get("d/a")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ivs.Get("d/./a"); !bytes.Equal(again, a) {
		t.Error("Get gave a known name a new IV")
	}
	if fresh, _ := ivs.Fresh("d/a"); bytes.Equal(fresh, a) {
		t.Error("Fresh kept the old IV")
	}
	a, _ = ivs.Lookup("d/a")
	ivs.Rename("d", "e")
	if _, ok := ivs.Lookup("d/a"); ok {
		t.Error("a renamed directory's file kept its old name")
	}
	if got, ok := ivs.Lookup(filepath.Join("e", "a")); !ok || !bytes.Equal(got, a) {
		t.Error("a renamed directory's file lost its IV")
	}
	ivs.Link("e/a", "e/b")
	if got, ok := ivs.Lookup("e/b"); !ok || !bytes.Equal(got, a) {
		t.Error("a link has another IV")
	}
	ivs.Rename("e/b", "e/c")
	if _, ok := ivs.Lookup("e/b"); ok {
		t.Error("a renamed file kept its old name")
	}
	ivs.Forget("e/a")
	if _, ok := ivs.Lookup("e/a"); ok {
		t.Error("Forget kept the IV")
	}
	if _, err := NewPeerIVs(strings.NewReader("short")).Fresh("x"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a failing random source: %v", err)
	}
}

// TestPeerStream: what is written sequentially and at offsets reads back
// through the stream, sequentially and at offsets, the bytes written are
// the cipher's, and the caller's buffer is left as it was.
func TestPeerStream(t *testing.T) {
	key := make([]byte, 16)
	rand.Read(key)
	c, err := peer.New(ctr.AES128CTR, key)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	rand.Read(iv)
	plain := make([]byte, 100)
	rand.Read(plain)
	keep := bytes.Clone(plain)
	var disk []byte
	w := NewPeerStream(c, iv)
	for _, n := range []int{7, 30, 13} {
		disk = append(disk, w.Encrypt(plain[len(disk):len(disk)+n])...)
		w.Wrote(n)
	}
	disk = append(disk, w.EncryptAt(plain[50:], 50)...)
	if !bytes.Equal(plain, keep) {
		t.Fatal("encrypting changed the caller's buffer")
	}
	want := make([]byte, len(plain))
	c.XORAt(want, plain, iv, 0)
	if !bytes.Equal(disk, want) {
		t.Fatal("the stream's bytes are not the cipher's")
	}
	r := NewPeerStream(c, iv)
	got := bytes.Clone(disk)
	r.Read(got[:40], 40)
	r.Read(got[40:], 60)
	if !bytes.Equal(got, plain) {
		t.Error("sequential reads do not decrypt")
	}
	got = bytes.Clone(disk[33:])
	r.ReadAt(got, len(got), 33)
	if !bytes.Equal(got, plain[33:]) {
		t.Error("a read at an offset does not decrypt")
	}
	r.SetOffset(90)
	got = bytes.Clone(disk[90:])
	r.Read(got, len(got))
	if !bytes.Equal(got, plain[90:]) {
		t.Error("a read after SetOffset does not decrypt")
	}
}
