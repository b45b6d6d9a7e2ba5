package keyenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Blobs written by format version 1 (commit 0fda13f) with the key file of
// 64 times "a1": one file blob and one plaintext blob, both with label
// key-dictionary.
const (
	v1FileBlob      = "4154534201020e6b65792d64696374696f6e6172790008c07e8d77a114f872b2d1a6a965e6d3af4b544568b06f7b37e94e08f268155b5e3c1d4425420b34727f8b5b5567e88126849c007545e4329c6f73a569e3a1d9054e78195f969b4c33"
	v1FileSecret    = "a key dictionary sealed by version 1"
	v1PlainBlob     = "4154534201010e6b65792d64696374696f6e6172790000706c61696e7465787420763121fac0c69f76c4394d9341db58761735"
	v1PlainSecret   = "plaintext v1"
	v1FileKeyHexRep = "a1"
)

// sealV1 builds a version 1 blob as FORMAT.md describes it: no key
// identity. key is nil for plaintext.
func sealV1(t *testing.T, kind Kind, label string, ref, key, secret []byte) []byte {
	t.Helper()
	h := append([]byte(blobMagic), blobVersionNoName, byte(kind), byte(len(label)))
	h = append(h, label...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(ref)))
	h = append(h, ref...)
	if kind == KindPlaintext {
		b := append(h, secret...)
		sum := sha256.Sum256(b)
		return append(b, sum[:plainSumBytes]...)
	}
	aead, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, nonceBytes)
	return aead.Seal(append(h, nonce...), nonce, secret, h)
}

// calls counts a backend's Unseal calls, and fails ones the test says
// must not happen.
type calls struct {
	Backend
	unseals atomic.Int32
}

func (c *calls) Unseal(ctx context.Context, label string, blob []byte) (*Secret, error) {
	c.unseals.Add(1)
	return c.Backend.Unseal(ctx, label, blob)
}

// foreignDenied answers a blob of another key the way moto's KMS does:
// access denied, not wrong master key. Picking by the record must not care.
type foreignDenied struct{ *calls }

func (f foreignDenied) Unseal(ctx context.Context, label string, blob []byte) (*Secret, error) {
	s, err := f.calls.Unseal(ctx, label, blob)
	if errors.Is(err, ErrWrongMasterKey) {
		return nil, errorf("%s: %w: denied", f.ID(), ErrKMSAccessDenied)
	}
	return s, err
}

// Blobs of format version 1, written before blobs named their key, still
// open: with the key directly, and through MasterKeys by trial, which
// reseals them in the current format.
func TestOldBlobsOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.key")
	if err := os.WriteFile(path, []byte(strings.Repeat(v1FileKeyHexRep, 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v1Key, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer v1Key.Close()
	fileBlob, _ := hex.DecodeString(v1FileBlob)
	plainBlob, _ := hex.DecodeString(v1PlainBlob)
	ring, kr, _ := newKeyringBackend(t, "tikv")
	ringKey, e, err := kr.key("tikv", 0)
	if err != nil {
		t.Fatal(err)
	}
	ref := append([]byte{4}, "tikv"...)
	ref = binary.BigEndian.AppendUint32(ref, e.Version)
	ref = append(ref, keyCheck(ringKey.Bytes())...)
	ringBlob := sealV1(t, KindKeyring, "key-dictionary", ref, ringKey.Bytes(), []byte("keyring v1"))
	ringKey.Release()
	other, _ := newFileBackend(t)

	for _, tt := range []struct {
		name   string
		owner  Backend
		blob   []byte
		secret string
	}{
		{"file", v1Key, fileBlob, v1FileSecret},
		{"plaintext", Plaintext(), plainBlob, v1PlainSecret},
		{"keyring", ring, ringBlob, "keyring v1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sb, err := ParseSealedBlob(tt.blob)
			if err != nil {
				t.Fatal(err)
			}
			if _, named := sb.Record(); named || sb.Version != 1 {
				t.Fatalf("version %d blob names a key", sb.Version)
			}
			mustUnseal(t, tt.owner, "key-dictionary", tt.blob, []byte(tt.secret))
			// The owner current: opened, no reseal.
			s, resealed, err := (&MasterKeys{Current: tt.owner, Previous: other}).Unseal(ctx, "key-dictionary", tt.blob)
			if err != nil || resealed != nil {
				t.Fatalf("current key: resealed %v, %v", resealed != nil, err)
			}
			s.Release()
			// The owner previous: tried after the current key says wrong
			// master key, and resealed under the current key, naming it.
			s, resealed, err = (&MasterKeys{Current: other, Previous: tt.owner}).Unseal(ctx, "key-dictionary", tt.blob)
			if err != nil || resealed == nil {
				t.Fatalf("previous key: resealed %v, %v", resealed != nil, err)
			}
			s.Release()
			nsb, err := ParseSealedBlob(resealed)
			if err != nil {
				t.Fatal(err)
			}
			if rec, named := nsb.Record(); !named || nsb.Version != BlobVersion || !other.Holds(rec) || tt.owner.Holds(rec) {
				t.Fatalf("resealed blob version %d records %v", nsb.Version, rec)
			}
			mustUnseal(t, other, "key-dictionary", resealed, []byte(tt.secret))
			// Neither key: both failed, as before.
			_, _, err = (&MasterKeys{Current: other, Previous: other}).Unseal(ctx, "key-dictionary", tt.blob)
			wantErr(t, err, ErrBothMasterKeysFailed)
		})
	}
}

// MasterKeys opens a blob with the key it records, whichever order the
// keys are configured in, for every pair of local kinds (same kind
// included), and never asks the other key: even a key whose service
// answers a foreign blob with access denied (as moto's KMS does) is never
// asked.
func TestMasterKeysPickByRecord(t *testing.T) {
	ctx := context.Background()
	type mk struct {
		name string
		b    Backend
	}
	fileA, _ := newFileBackend(t)
	fileB, _ := newFileBackend(t)
	ringA, _, _ := newKeyringBackend(t, "tikv")
	ringB, _, _ := newKeyringBackend(t, "tikv")
	plain := Plaintext()
	pairs := [][2]mk{
		{{"file A", fileA}, {"file B", fileB}},
		{{"keyring A", ringA}, {"keyring B", ringB}},
		{{"file", fileA}, {"keyring", ringA}},
		{{"plaintext", plain}, {"file", fileB}},
		{{"plaintext", plain}, {"keyring", ringB}},
	}
	for _, p := range pairs {
		for _, order := range [][2]int{{0, 1}, {1, 0}} {
			sealer, other := p[order[0]], p[order[1]]
			t.Run(sealer.name+" sealed, "+other.name+" the other", func(t *testing.T) {
				secret := []byte("the dictionary of " + sealer.name)
				blob := mustSeal(t, sealer.b, "key-dictionary", secret)
				sb, err := ParseSealedBlob(blob)
				if err != nil {
					t.Fatal(err)
				}
				rec, named := sb.Record()
				if !named || !sealer.b.Holds(rec) || other.b.Holds(rec) {
					t.Fatalf("the blob records %v: sealer holds it %v, other %v", rec, sealer.b.Holds(rec), other.b.Holds(rec))
				}
				owner := &calls{Backend: sealer.b}
				stranger := foreignDenied{&calls{Backend: other.b}}

				s, resealed, err := (&MasterKeys{Current: owner, Previous: stranger}).Unseal(ctx, "key-dictionary", blob)
				if err != nil || resealed != nil {
					t.Fatalf("sealer current: resealed %v, %v", resealed != nil, err)
				}
				s.Release()
				s, resealed, err = (&MasterKeys{Current: stranger, Previous: owner}).Unseal(ctx, "key-dictionary", blob)
				if err != nil || resealed == nil {
					t.Fatalf("sealer previous: resealed %v, %v", resealed != nil, err)
				}
				if !bytes.Equal(s.Bytes(), secret) {
					t.Fatalf("opened to %q", s.Bytes())
				}
				s.Release()
				if n := stranger.unseals.Load(); n != 0 {
					t.Fatalf("the key the blob does not record was asked %d times", n)
				}
				if n := owner.unseals.Load(); n != 2 {
					t.Fatalf("the sealer was asked %d times, want 2", n)
				}
				mustUnseal(t, other.b, "key-dictionary", resealed, secret)
				nsb, _ := ParseSealedBlob(resealed)
				if nrec, _ := nsb.Record(); !other.b.Holds(nrec) {
					t.Fatalf("the resealed blob records %v", nrec)
				}
			})
		}
	}
}

// A blob that records neither configured key fails before any backend is
// asked, with an error naming what it records and both keys.
func TestMasterKeysThirdKey(t *testing.T) {
	ctx := context.Background()
	a, _ := newFileBackend(t)
	b, _ := newFileBackend(t)
	ringC, _, _ := newKeyringBackend(t, "third")
	for _, third := range []Backend{ringC, func() Backend { c, _ := newFileBackend(t); return c }()} {
		blob := mustSeal(t, third, "key-dictionary", []byte("dict"))
		sb, _ := ParseSealedBlob(blob)
		rec, _ := sb.Record()
		ca, cb := &calls{Backend: a}, &calls{Backend: b}
		_, _, err := (&MasterKeys{Current: ca, Previous: cb}).Unseal(ctx, "key-dictionary", blob)
		wantErr(t, err, ErrBothMasterKeysFailed, ErrWrongMasterKey)
		for _, s := range []string{rec.String(), hex.EncodeToString(sb.KeyIdentity), a.ID(), b.ID(), "previous master key"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%q does not say %q", err, s)
			}
		}
		_, _, err = (&MasterKeys{Current: ca}).Unseal(ctx, "key-dictionary", blob)
		wantErr(t, err, ErrWrongMasterKey)
		if errors.Is(err, ErrBothMasterKeysFailed) || !strings.Contains(err.Error(), rec.String()) || !strings.Contains(err.Error(), a.ID()) {
			t.Errorf("without a previous key: %q", err)
		}
		if ca.unseals.Load()+cb.unseals.Load() != 0 {
			t.Fatal("a backend was asked to open a blob it does not hold")
		}
		t.Log(err)
	}
}

// The recorded identity is authenticated. Altered to name a key the
// backend does not hold, the blob is another key's (ErrWrongMasterKey,
// through MasterKeys too); altered to name another version the keyring
// does hold, it fails authentication; rewritten to name the other
// configured key, that key does not open it either.
func TestAlteredKeyIdentity(t *testing.T) {
	ctx := context.Background()
	fileA, _ := newFileBackend(t)
	fileB, _ := newFileBackend(t)
	ringA, kr, _ := newKeyringBackend(t, "tikv")
	ringB, _, _ := newKeyringBackend(t, "tikv")
	for _, pair := range [][2]Backend{{fileA, fileB}, {ringA, ringB}} {
		a, b := pair[0], pair[1]
		blob := mustSeal(t, a, "key-dictionary", []byte("dict"))
		sb, _ := ParseSealedBlob(blob)
		at := bytes.Index(blob, sb.KeyIdentity)
		for i := range sb.KeyIdentity {
			bad := bytes.Clone(blob)
			bad[at+i] ^= 0x40
			_, err := a.Unseal(ctx, "key-dictionary", bad)
			wantErr(t, err, ErrWrongMasterKey)
			_, _, err = (&MasterKeys{Current: a, Previous: b}).Unseal(ctx, "key-dictionary", bad)
			wantErr(t, err, ErrWrongMasterKey)
		}
		// Rewritten to record b: MasterKeys asks b, which does not open it.
		other := mustSeal(t, b, "key-dictionary", []byte("x"))
		osb, _ := ParseSealedBlob(other)
		forged := bytes.Clone(blob)
		copy(forged[at:], osb.KeyIdentity)
		s, _, err := (&MasterKeys{Current: b, Previous: a}).Unseal(ctx, "key-dictionary", forged)
		if err == nil {
			s.Release()
			t.Fatalf("%s: a blob whose record was rewritten opened", a.Kind())
		}
		if !errors.Is(err, ErrWrongMasterKey) && !errors.Is(err, ErrCorruptBlob) {
			t.Fatalf("%s: %v", a.Kind(), err)
		}
	}
	// A keyring holds every version: a blob of version 1 whose record
	// is changed to name version 2 reaches GCM, which refuses it.
	v1 := mustSeal(t, ringA, "key-dictionary", []byte("dict"))
	if _, err := kr.RotateKey("tikv"); err != nil {
		t.Fatal(err)
	}
	v2 := mustSeal(t, ringA, "key-dictionary", []byte("dict"))
	sb1, _ := ParseSealedBlob(v1)
	sb2, _ := ParseSealedBlob(v2)
	if bytes.Equal(sb1.KeyIdentity, sb2.KeyIdentity) || !ringA.Holds(KeyRecord{KindKeyring, sb1.KeyIdentity}) {
		t.Fatal("the two versions record the same check value, or version 1 is no longer held")
	}
	forged := bytes.Clone(v1)
	copy(forged[bytes.Index(v1, sb1.KeyIdentity):], sb2.KeyIdentity)
	_, err := ringA.Unseal(ctx, "key-dictionary", forged)
	wantErr(t, err, ErrCorruptBlob)
	if !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("%v", err)
	}
	mustUnseal(t, ringA, "key-dictionary", v1, []byte("dict"))
}

// KeyRecord.String says the kind and the identity, as text for remote keys
// and as hex for check values.
func TestKeyRecordString(t *testing.T) {
	for _, tt := range []struct {
		r    KeyRecord
		want string
	}{
		{KeyRecord{KindPlaintext, nil}, "plaintext"},
		{KeyRecord{KindFile, []byte{1, 2, 3, 4, 5, 6, 7, 8}}, "file key with check value 0102030405060708"},
		{KeyRecord{KindKeyring, []byte{0xff, 0, 0, 0, 0, 0, 0, 1}}, "keyring key with check value ff00000000000001"},
		{KeyRecord{KindKMS, []byte("alias/tikv in us-west-2")}, `kms key "alias/tikv in us-west-2"`},
		{KeyRecord{KindVault, []byte{0xff, 0xfe}}, "vault key fffe"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.r.Identity, got, tt.want)
		}
	}
}
