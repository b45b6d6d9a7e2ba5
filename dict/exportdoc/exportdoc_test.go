package exportdoc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
)

// docBuilder seals hand-made manifests and key sections under a transfer
// key, to check what Open refuses inside an authentic document.
type docBuilder struct{ key []byte }

func (b docBuilder) seal(t *testing.T, manifest, keySection []byte) []byte {
	t.Helper()
	aead, err := newGCM(b.key)
	if err != nil {
		t.Fatal(err)
	}
	ad := append([]byte(magic), version)
	ad = append(ad, keyCheck(b.key)...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(manifest)))
	ad = append(ad, manifest...)
	nonce := make([]byte, nonceBytes)
	return slices.Concat(ad, nonce, aead.Seal(nil, nonce, keySection, ad))
}

type fileRec struct {
	name   string
	id     uint64
	method ctr.Method
	iv     byte
	size   uint64
}

func manifestOf(files ...fileRec) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(files)))
	for _, f := range files {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.name)))
		b = append(b, f.name...)
		b = binary.BigEndian.AppendUint64(b, f.id)
		b = append(b, byte(f.method))
		iv := make([]byte, 16)
		iv[15] = f.iv
		b = append(b, iv...)
		b = binary.BigEndian.AppendUint64(b, f.size)
	}
	return b
}

type keyRec struct {
	id     uint64
	method ctr.Method
	flags  byte
	klen   int
}

func keysOf(keys ...keyRec) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k.id)
		b = append(b, byte(k.method))
		b = binary.BigEndian.AppendUint64(b, 1_700_000_000)
		b = append(b, k.flags, byte(k.klen))
		b = append(b, bytes.Repeat([]byte{0x42}, k.klen)...)
	}
	return b
}

// TestOpenRefusesMalformedContent: documents that authenticate (they
// were sealed with the key) but hold what no exporter writes.
func TestOpenRefusesMalformedContent(t *testing.T) {
	b := docBuilder{key: bytes.Repeat([]byte{1}, KeySize)}
	sm4 := keyRec{7, ctr.SM4CTR, 0, 16}
	f := fileRec{"a.sst", 7, ctr.SM4CTR, 1, 10}
	plain := fileRec{"p.txt", 0, ctr.Plaintext, 0, 3}
	tests := []struct {
		name     string
		manifest []byte
		keys     []byte
		want     error // nil: the document is fine
	}{
		{"valid", manifestOf(f, plain), keysOf(sm4), nil},
		{"valid exposed key", manifestOf(f), keysOf(keyRec{7, ctr.SM4CTR, 1, 16}), nil},
		{"no files", manifestOf(), keysOf(), nil},
		{"a name only a data directory reserves", manifestOf(fileRec{"key.dict", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), nil},
		{"unsorted files", manifestOf(plain, f), keysOf(sm4), ErrCorrupt},
		{"repeated file", manifestOf(f, f), keysOf(sm4), ErrCorrupt},
		{"key no file uses", manifestOf(f), keysOf(sm4, keyRec{8, ctr.AES128CTR, 0, 16}), ErrCorrupt},
		{"file's key missing", manifestOf(f), keysOf(), ErrCorrupt},
		{"method mismatch", manifestOf(fileRec{"a.sst", 7, ctr.AES128CTR, 1, 10}), keysOf(sm4), ErrCorrupt},
		{"plaintext with a key id", manifestOf(fileRec{"p", 7, ctr.Plaintext, 0, 3}), keysOf(sm4), ErrCorrupt},
		{"plaintext with an IV", manifestOf(fileRec{"p", 0, ctr.Plaintext, 1, 3}), keysOf(), ErrCorrupt},
		{"encrypted with key id 0", manifestOf(fileRec{"a", 0, ctr.SM4CTR, 1, 3}), keysOf(), ErrCorrupt},
		{"unknown file method", manifestOf(fileRec{"a", 7, ctr.Method(9), 1, 3}), keysOf(sm4), ctr.ErrUnknownMethod},
		{"negative size", manifestOf(fileRec{"a.sst", 7, ctr.SM4CTR, 1, 1 << 63}), keysOf(sm4), ErrCorrupt},
		{"parent path", manifestOf(fileRec{"../a", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"inner parent path", manifestOf(fileRec{"x/../../a", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"absolute path", manifestOf(fileRec{"/etc/passwd", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"unclean path", manifestOf(fileRec{"a//b", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"dot path", manifestOf(fileRec{".", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"empty path", manifestOf(fileRec{"", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"NUL in path", manifestOf(fileRec{"a\x00b", 7, ctr.SM4CTR, 1, 3}), keysOf(sm4), ErrCorrupt},
		{"bytes after the files", append(manifestOf(f), 0), keysOf(sm4), ErrCorrupt},
		{"too many files", binary.BigEndian.AppendUint32(nil, 1000), keysOf(), ErrCorrupt},
		{"short manifest", []byte{0, 0}, keysOf(), ErrCorrupt},
		{"key id 0", manifestOf(fileRec{"a", 0, ctr.SM4CTR, 1, 3}), keysOf(keyRec{0, ctr.SM4CTR, 0, 16}), ErrCorrupt},
		{"unsorted keys", manifestOf(fileRec{"a", 9, ctr.SM4CTR, 1, 3}, fileRec{"b", 7, ctr.SM4CTR, 1, 3}), keysOf(keyRec{9, ctr.SM4CTR, 0, 16}, sm4), ErrCorrupt},
		{"repeated key", manifestOf(f), keysOf(sm4, sm4), ErrCorrupt},
		{"plaintext key", manifestOf(fileRec{"a", 7, ctr.Plaintext, 0, 3}), keysOf(keyRec{7, ctr.Plaintext, 0, 0}), ErrCorrupt},
		{"unknown key method", manifestOf(f), keysOf(keyRec{7, ctr.Method(9), 0, 16}), ctr.ErrUnknownMethod},
		{"wrong key length", manifestOf(f), keysOf(keyRec{7, ctr.SM4CTR, 0, 32}), ErrCorrupt},
		{"unknown key flags", manifestOf(f), keysOf(keyRec{7, ctr.SM4CTR, 2, 16}), ErrCorrupt},
		{"bytes after the keys", manifestOf(f), append(keysOf(sm4), 0), ErrCorrupt},
		{"truncated key", manifestOf(f), keysOf(sm4)[:20], ErrCorrupt},
		{"too many keys", manifestOf(), binary.BigEndian.AppendUint32(nil, 1000), ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(b.seal(t, tc.manifest, tc.keys), b.key)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				d.Release()
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSealOpenRoundTrip: a sealed document opens to what was sealed, under
// its own transfer key only, and two seals differ in key and bytes.
func TestSealOpenRoundTrip(t *testing.T) {
	files, keys := goldenContent()
	doc, key, err := Seal(files, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize || bytes.Contains(doc, key) {
		t.Fatalf("a %d-byte transfer key, in the document: %v", len(key), bytes.Contains(doc, key))
	}
	for _, k := range keys {
		if bytes.Contains(doc, k.Bytes) {
			t.Fatalf("data key %d is in the document in the clear", k.ID)
		}
	}
	d, err := Open(doc, key)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Files, files) || !reflect.DeepEqual(d.Keys, keys) {
		t.Fatalf("opened %+v %+v, sealed %+v %+v", d.Files, d.Keys, files, keys)
	}
	d.Release()
	d.Release() // twice is fine

	doc2, key2, err := Seal(files, keys)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key, key2) || bytes.Equal(doc, doc2) {
		t.Fatal("two seals gave the same transfer key or document")
	}
	if _, err := Open(doc, key2); !errors.Is(err, ErrTransferKey) {
		t.Fatalf("the other seal's key: %v", err)
	}
	empty, ekey, err := Seal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Open(empty, ekey); err != nil || len(d.Files) != 0 || len(d.Keys) != 0 {
		t.Fatalf("an empty document: %+v, %v", d, err)
	}
}

// TestSealRefusesInvalid: Seal refuses what Open would refuse, with an
// error that is none of Open's.
func TestSealRefusesInvalid(t *testing.T) {
	files, keys := goldenContent()
	aes := keys[0]
	f := files[0]
	named := func(name string) File { g := f; g.Name = name; return g }
	tests := []struct {
		name  string
		files []File
		keys  []Key
	}{
		{"unsorted files", []File{files[2], files[0]}, keys[:1]},
		{"repeated file", []File{f, f}, keys[:1]},
		{"file's key missing", []File{f}, nil},
		{"key no file uses", []File{f}, keys},
		{"unsorted keys", files, []Key{keys[1], keys[0]}},
		{"method mismatch", []File{{Name: "a", Entry: filedict.Entry{KeyID: 3, Method: ctr.AES128CTR}}}, keys[:1]},
		{"unknown method", []File{{Name: "a", Entry: filedict.Entry{KeyID: 3, Method: ctr.Method(9)}}}, keys[:1]},
		{"parent path", []File{named("../a")}, keys[:1]},
		{"absolute path", []File{named("/a")}, keys[:1]},
		{"empty path", []File{named("")}, keys[:1]},
		{"long path", []File{named(strings.Repeat("a", MaxPath+1))}, keys[:1]},
		{"very long path", []File{named(strings.Repeat("a", 1<<16+1))}, keys[:1]},
		{"negative size", []File{{Name: "a", Entry: f.Entry, Size: -1}}, keys[:1]},
		{"short key", []File{f}, []Key{{ID: 3, Method: ctr.AES256CTR, Bytes: aes.Bytes[:16]}}},
		{"long key", []File{f}, []Key{{ID: 3, Method: ctr.AES256CTR, Bytes: make([]byte, 256+32)}}},
		{"plaintext with a key id", []File{{Name: "p", Entry: filedict.Entry{KeyID: 3, Method: ctr.Plaintext}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, key, err := Seal(tc.files, tc.keys)
			if err == nil || doc != nil || key != nil {
				t.Fatalf("Seal = %d bytes, key %x, %v", len(doc), key, err)
			}
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTransferKey) || errors.Is(err, ErrVersion) {
				t.Fatalf("Seal = %v, which reads as an error of Open", err)
			}
		})
	}
}
