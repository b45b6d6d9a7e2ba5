package exportdoc

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/filedict"
)

// goldenKey and goldenDoc are a version 1 document sealed by the code this
// package was moved from (dict's sealExport, commit bd886ef), with the
// transfer key it drew: the format must not change under them.
const goldenKey = "2b5285af4e459299b078ae3308f26e8ca96696bb40d68ba41250eb9ecf5dcb1f"

var goldenDoc = `
	4154455801c61b26ebc4e0a2bd000000bb00000004000a3030303132332e7373
	74000000000000000304101112131415161718191a1b1c1d1e1f000000000001
	1170001164622f77616c2f3030303030372e6c6f670123456789abcdef05a0a1
	a2a3a4a5a6a7a8a9aaabacadaeaf00000000000004d200076f6c642e73737400
	0000000000000304202122232425262728292a2b2c2d2e2f0000000000000000
	0009706c61696e2e747874000000000000000001000000000000000000000000
	000000000000000000000027a48c57d74e358bfdaab07574c714727130e6dd02
	96dc236f37ceb69df56bca8dadaa99b13f4234a8aaeafd8830179a46cbd175cc
	826c1a7876ef747e4a554a48640b6326bda4212bc4223b0778ad40f09619f71a
	58cecfd71b29816f2c9db5e1b64943ede17547983b7610f17ce9f1baea0bac66
	999a
`

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ivFrom(b byte) (iv [ctr.IVSize]byte) {
	for i := range iv {
		iv[i] = b + byte(i)
	}
	return iv
}

func keyFrom(b byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = b ^ byte(i*7)
	}
	return k
}

// goldenFiles and goldenKeys are what goldenDoc holds.
func goldenContent() ([]File, []Key) {
	const sm4ID = 0x0123456789abcdef
	files := []File{
		{Name: "000123.sst", Entry: filedict.Entry{KeyID: 3, Method: ctr.AES256CTR, IV: ivFrom(0x10)}, Size: 70000},
		{Name: "db/wal/000007.log", Entry: filedict.Entry{KeyID: sm4ID, Method: ctr.SM4CTR, IV: ivFrom(0xa0)}, Size: 1234},
		{Name: "old.sst", Entry: filedict.Entry{KeyID: 3, Method: ctr.AES256CTR, IV: ivFrom(0x20)}, Size: 0},
		{Name: "plain.txt", Entry: filedict.Entry{Method: ctr.Plaintext}, Size: 39},
	}
	keys := []Key{
		{ID: 3, Method: ctr.AES256CTR, Created: time.Unix(1700000000, 0).UTC(), Bytes: keyFrom(0x5c, 32)},
		{ID: sm4ID, Method: ctr.SM4CTR, Created: time.Unix(1600000000, 0).UTC(), Exposed: true, Bytes: keyFrom(0x7e, 16)},
	}
	return files, keys
}

// TestGoldenV1: a document written before the move opens to what was
// sealed, and sealing the same content with the same key and nonce gives
// the same bytes.
func TestGoldenV1(t *testing.T) {
	doc, key := mustHex(t, goldenDoc), mustHex(t, goldenKey)
	wantFiles, wantKeys := goldenContent()
	d, err := Open(doc, key)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if !reflect.DeepEqual(d.Files, wantFiles) {
		t.Fatalf("files %+v, want %+v", d.Files, wantFiles)
	}
	if !reflect.DeepEqual(d.Keys, wantKeys) {
		t.Fatalf("keys %+v, want %+v", d.Keys, wantKeys)
	}
	for _, k := range wantKeys {
		if got, ok := d.Key(k.ID); !ok || !reflect.DeepEqual(got, k) {
			t.Fatalf("Key(%d) = %+v, %v", k.ID, got, ok)
		}
	}
	if _, ok := d.Key(4); ok {
		t.Fatal("Key(4) found a key the document lacks")
	}

	mlen := int(binary.BigEndian.Uint32(doc[headerBytes-4:]))
	nonce := doc[headerBytes+mlen : headerBytes+mlen+nonceBytes]
	again, err := seal(wantFiles, wantKeys, key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, doc) {
		t.Fatalf("sealed again:\n%x\nwas:\n%x", again, doc)
	}
}

// TestOpenTamper flips every byte of the golden document in turn, then
// cuts it at every length: each fails with the error of the field hit.
func TestOpenTamper(t *testing.T) {
	doc, key := mustHex(t, goldenDoc), mustHex(t, goldenKey)
	want := func(pos int) error {
		switch {
		case pos < 4:
			return ErrCorrupt // magic
		case pos == 4:
			return ErrVersion
		case pos < 13:
			return ErrTransferKey // the key check: it no longer matches the key
		}
		return ErrCorrupt
	}
	bad := bytes.Clone(doc)
	for pos := range doc {
		bad[pos] ^= 1 << (pos % 8)
		_, err := Open(bad, key)
		bad[pos] = doc[pos]
		if !errors.Is(err, want(pos)) {
			t.Fatalf("byte %d flipped: Open = %v; want %v", pos, err, want(pos))
		}
	}
	for n := range doc {
		if _, err := Open(doc[:n], key); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(doc), err)
		}
	}
	if _, err := Open(append(bytes.Clone(doc), 0), key); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a byte appended: %v", err)
	}
	future := bytes.Clone(doc)
	future[4] = 2
	if _, err := Open(future, key); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("version 2: %v, want ErrVersion naming version 2", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	doc, key := mustHex(t, goldenDoc), mustHex(t, goldenKey)
	flipped := bytes.Clone(key)
	flipped[31] ^= 1
	for name, k := range map[string][]byte{
		"one bit off": flipped,
		"zero key":    make([]byte, KeySize),
		"too short":   key[:16],
		"too long":    append(bytes.Clone(key), 0),
		"none":        nil,
	} {
		if _, err := Open(doc, k); !errors.Is(err, ErrTransferKey) {
			t.Fatalf("%s: Open = %v, want ErrTransferKey", name, err)
		}
	}
}
