package fuzz

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/exportdoc"
	"github.com/atrest/atrest/dict/filedict"
)

// The export document's framing as docs/FORMAT.md gives it, written here
// apart from package exportdoc: magic, version, key check, manifest length
// and manifest (the associated data), then nonce and the GCM-sealed key
// section.
const (
	xdHeader = 4 + 1 + 8 + 4
	xdNonce  = 12
)

var xdKey = bytes.Repeat([]byte{0x5a}, exportdoc.KeySize)

func xdGCM(t testing.TB, key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// xdFrame seals manifest and key section into a document under key, as an
// exporter would, whatever they hold.
func xdFrame(t testing.TB, manifest, keySection, key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("atrest export key check v1"))
	ad := append([]byte("ATEX\x01"), h.Sum(nil)[:8]...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(manifest)))
	ad = append(ad, manifest...)
	nonce := make([]byte, xdNonce)
	body := xdGCM(t, key).Seal(nil, nonce, keySection, ad)
	return append(append(ad, nonce...), body...)
}

// xdParts takes a document apart again: its manifest and its key section,
// decrypted under key.
func xdParts(t testing.TB, doc, key []byte) (manifest, keySection []byte) {
	n := int(binary.BigEndian.Uint32(doc[xdHeader-4:]))
	ad := doc[:xdHeader+n]
	nonce := doc[xdHeader+n : xdHeader+n+xdNonce]
	keySection, err := xdGCM(t, key).Open(nil, nonce, doc[xdHeader+n+xdNonce:], ad)
	if err != nil {
		t.Fatalf("a sealed document does not authenticate: %v", err)
	}
	return doc[xdHeader : xdHeader+n], keySection
}

// xdWant is the error a document must fail with when byte pos is altered.
func xdWant(pos int) error {
	switch {
	case pos < 4:
		return exportdoc.ErrCorrupt // magic
	case pos == 4:
		return exportdoc.ErrVersion
	case pos < 13:
		return exportdoc.ErrTransferKey // the key check
	}
	return exportdoc.ErrCorrupt
}

func xdSeeds(f *testing.F) {
	iv := func(b byte) (v [ctr.IVSize]byte) {
		for i := range v {
			v[i] = b ^ byte(i*29)
		}
		return v
	}
	created := time.Unix(1_700_000_000, 0)
	aesKey := exportdoc.Key{ID: 3, Method: ctr.AES256CTR, Created: created, Bytes: bytes.Repeat([]byte{1}, 32)}
	sm4 := exportdoc.Key{ID: 1 << 60, Method: ctr.SM4CTR, Created: created.Add(-time.Hour), Exposed: true, Bytes: bytes.Repeat([]byte{2}, 16)}
	plain := exportdoc.File{Name: "plain.txt", Entry: filedict.Entry{Method: ctr.Plaintext}, Size: 39}
	for _, c := range []struct {
		files []exportdoc.File
		keys  []exportdoc.Key
	}{
		{nil, nil},
		{[]exportdoc.File{plain}, nil},
		{[]exportdoc.File{
			{Name: "000123.sst", Entry: filedict.Entry{KeyID: 3, Method: ctr.AES256CTR, IV: iv(1)}, Size: 70000},
			{Name: "db/wal/000007.log", Entry: filedict.Entry{KeyID: 1 << 60, Method: ctr.SM4CTR, IV: iv(2)}, Size: 1234},
			{Name: "old.sst", Entry: filedict.Entry{KeyID: 3, Method: ctr.AES256CTR, IV: iv(3)}},
			plain,
		}, []exportdoc.Key{aesKey, sm4}},
	} {
		doc, key, err := exportdoc.Seal(c.files, c.keys)
		if err != nil {
			f.Fatal(err)
		}
		manifest, keySection := xdParts(f, doc, key)
		f.Add(manifest, keySection, uint32(len(manifest)*2654435761))
		f.Add(doc, keySection, uint32(7))
	}
	f.Add([]byte("ATEX\x01"), []byte{0, 0, 0, 0}, uint32(0))
	f.Add([]byte{}, []byte{}, uint32(1))
}

// FuzzExportDoc feeds the export document's decoder. The first input is
// tried as a whole document, then as the manifest of an authentic one
// whose key section is the second input: no panic, errors that wrap the
// package's sentinels (or ctr.ErrUnknownMethod), and a document that
// opens seals again to the same manifest and key section (the encoding is
// canonical), opens to the same content, and fails with the error of the
// field hit when any one byte of it is altered or when it is cut short.
func FuzzExportDoc(f *testing.F) {
	xdSeeds(f)
	f.Fuzz(func(t *testing.T, manifest, keySection []byte, flip uint32) {
		if d, err := exportdoc.Open(manifest, xdKey); err == nil {
			d.Release()
		} else if !errors.Is(err, exportdoc.ErrCorrupt) && !errors.Is(err, exportdoc.ErrVersion) && !errors.Is(err, exportdoc.ErrTransferKey) {
			t.Fatalf("arbitrary bytes: error %v wraps no sentinel", err)
		}

		d, err := exportdoc.Open(xdFrame(t, manifest, keySection, xdKey), xdKey)
		if err != nil {
			if !errors.Is(err, exportdoc.ErrCorrupt) && !errors.Is(err, ctr.ErrUnknownMethod) {
				t.Fatalf("an authentic document: error %v is not ErrCorrupt", err)
			}
			return
		}
		defer d.Release()
		doc, key, err := exportdoc.Seal(d.Files, d.Keys)
		if err != nil {
			t.Fatalf("what Open gave does not seal: %v", err)
		}
		m2, k2 := xdParts(t, doc, key)
		if !bytes.Equal(m2, manifest) || !bytes.Equal(k2, keySection) {
			t.Fatalf("sealed again to manifest %x and keys %x, not %x and %x", m2, k2, manifest, keySection)
		}
		d2, err := exportdoc.Open(doc, key)
		if err != nil {
			t.Fatalf("a sealed document does not open: %v", err)
		}
		same := reflect.DeepEqual(d2.Files, d.Files) && reflect.DeepEqual(d2.Keys, d.Keys)
		d2.Release()
		if !same {
			t.Fatal("a sealed document opens to other content")
		}

		pos := int(flip % uint32(len(doc)))
		mask := byte(flip >> 24)
		if mask == 0 {
			mask = 1
		}
		bad := bytes.Clone(doc)
		bad[pos] ^= mask
		if _, err := exportdoc.Open(bad, key); !errors.Is(err, xdWant(pos)) {
			t.Fatalf("byte %d of %d xor %#x: %v, want %v", pos, len(doc), mask, err, xdWant(pos))
		}
		if _, err := exportdoc.Open(doc[:pos], key); !errors.Is(err, exportdoc.ErrCorrupt) {
			t.Fatalf("cut at %d of %d bytes: %v", pos, len(doc), err)
		}
		if _, err := exportdoc.Open(doc, xdKey); !errors.Is(err, exportdoc.ErrTransferKey) {
			t.Fatalf("under another transfer key: %v", err)
		}
	})
}
