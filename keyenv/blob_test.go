package keyenv

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// localBackends are the backends that need no server.
func localBackends(t *testing.T) []Backend {
	file, _ := newFileBackend(t)
	ring, _, _ := newKeyringBackend(t, "master")
	return []Backend{file, ring, Plaintext()}
}

func TestSealRoundTrip(t *testing.T) {
	for _, b := range localBackends(t) {
		t.Run(b.Kind().String(), func(t *testing.T) {
			for _, n := range []int{1, 16, 32, 1000, 100 << 10} {
				secret := bytes.Repeat([]byte{byte(n)}, n)
				secret[0] = 0xee
				blob := mustSeal(t, b, "key-dictionary", secret)
				mustUnseal(t, b, "key-dictionary", blob, secret)
				sb, err := ParseSealedBlob(blob)
				if err != nil {
					t.Fatal(err)
				}
				if sb.Version != BlobVersion || sb.Kind != b.Kind() || sb.Label != "key-dictionary" || !b.Holds(KeyRecord{sb.Kind, sb.KeyIdentity}) {
					t.Fatalf("parsed %+v", sb)
				}
				if b.Secure() && bytes.Contains(blob, secret[1:min(n, 17)]) && n > 16 {
					t.Fatal("secret visible in a sealed blob")
				}
			}
		})
	}
}

// Two seals of the same secret differ (fresh nonce, fresh data key).
func TestSealFreshNonce(t *testing.T) {
	for _, b := range localBackends(t)[:2] {
		a := mustSeal(t, b, "l", []byte("same secret"))
		c := mustSeal(t, b, "l", []byte("same secret"))
		if bytes.Equal(a, c) {
			t.Errorf("%s: two seals are identical", b.ID())
		}
		sa, _ := ParseSealedBlob(a)
		sc, _ := ParseSealedBlob(c)
		if bytes.Equal(sa.Nonce, sc.Nonce) {
			t.Errorf("%s: nonce reused", b.ID())
		}
	}
}

// Flipping any single bit of a sealed blob makes it fail to open.
func TestTamperedBlob(t *testing.T) {
	for _, b := range localBackends(t) {
		t.Run(b.Kind().String(), func(t *testing.T) {
			secret := []byte("the key dictionary, 32 bytes....")
			blob := mustSeal(t, b, "key-dictionary", secret)
			for i := range len(blob) * 8 {
				bad := bytes.Clone(blob)
				bad[i/8] ^= 1 << (i % 8)
				s, err := b.Unseal(context.Background(), "key-dictionary", bad)
				if err == nil {
					s.Release()
					t.Fatalf("bit %d flipped: blob still opens", i)
				}
				if !errors.Is(err, ErrCorruptBlob) && !errors.Is(err, ErrWrongMasterKey) &&
					!errors.Is(err, ErrWrongLabel) && !errors.Is(err, ErrUnknownVersion) {
					t.Fatalf("bit %d flipped: unexpected error %v", i, err)
				}
			}
			// Truncations too.
			for n := range len(blob) {
				if s, err := b.Unseal(context.Background(), "key-dictionary", blob[:n]); err == nil {
					s.Release()
					t.Fatalf("truncated to %d bytes: still opens", n)
				}
			}
		})
	}
}

// A blob sealed for one label does not open under another.
func TestBlobMovedToAnotherContext(t *testing.T) {
	for _, b := range localBackends(t) {
		blob := mustSeal(t, b, "key-dictionary", []byte("secret"))
		_, err := b.Unseal(context.Background(), "transfer-key", blob)
		wantErr(t, err, ErrWrongLabel)
		// Rewriting the label in the header to match does not help: the
		// label is authenticated.
		forged := bytes.Replace(blob, []byte("key-dictionary"), []byte("key-dictionarz"), 1)
		_, err = b.Unseal(context.Background(), "key-dictionarz", forged)
		if err == nil || errors.Is(err, ErrWrongLabel) {
			t.Errorf("%s: forged label: %v", b.ID(), err)
		}
	}
}

func TestBlobVersionAndKind(t *testing.T) {
	b, _ := newFileBackend(t)
	blob := mustSeal(t, b, "l", []byte("secret"))
	future := bytes.Clone(blob)
	future[4] = 7
	_, err := b.Unseal(context.Background(), "l", future)
	wantErr(t, err, ErrUnknownVersion)
	if !strings.Contains(err.Error(), "unknown format version 7") {
		t.Errorf("error %q does not say the version", err)
	}
	// A plaintext blob given to a file backend: wrong master key, so that
	// a previous plaintext master key gets its turn.
	plain := mustSeal(t, Plaintext(), "l", []byte("secret"))
	_, err = b.Unseal(context.Background(), "l", plain)
	wantErr(t, err, ErrWrongMasterKey, ErrWrongBackend)
	_, err = Plaintext().Unseal(context.Background(), "l", blob)
	wantErr(t, err, ErrWrongMasterKey, ErrWrongBackend)
}

func TestParseSealedBlobErrors(t *testing.T) {
	b, _ := newFileBackend(t)
	good := mustSeal(t, b, "label", []byte("secret"))
	for _, tt := range []struct {
		name string
		blob []byte
		want error
	}{
		{"empty", nil, ErrCorruptBlob},
		{"magic", append([]byte("XTSB"), good[4:]...), ErrCorruptBlob},
		{"kind 0", append(append([]byte{}, good[:5]...), append([]byte{0}, good[6:]...)...), ErrCorruptBlob},
		{"kind 9", append(append([]byte{}, good[:5]...), append([]byte{9}, good[6:]...)...), ErrCorruptBlob},
		{"label length 0", append(append([]byte{}, good[:6]...), append([]byte{0}, good[7:]...)...), ErrCorruptBlob},
		{"header only", good[:7], ErrCorruptBlob},
		{"no tag", good[:len(good)-len("secret")-16], ErrCorruptBlob},
		{"version 3", append(append([]byte{}, good[:4]...), append([]byte{3}, good[5:]...)...), ErrUnknownVersion},
		{"version 0", append(append([]byte{}, good[:4]...), append([]byte{0}, good[5:]...)...), ErrUnknownVersion},
	} {
		if _, err := ParseSealedBlob(tt.blob); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSealRefusals(t *testing.T) {
	for _, b := range localBackends(t) {
		for _, label := range []string{"", "has space", strings.Repeat("x", 256), "é"} {
			if _, err := b.Seal(context.Background(), label, []byte("s")); err == nil {
				t.Errorf("%s: label %q accepted", b.ID(), label)
			}
		}
		if _, err := b.Seal(context.Background(), "l", nil); err == nil {
			t.Errorf("%s: empty secret sealed", b.ID())
		}
	}
}

// Another key file's key is the wrong master key, not a corrupt blob.
func TestWrongFileKey(t *testing.T) {
	a, keyA := newFileBackend(t)
	b, keyB := newFileBackend(t)
	blob := mustSeal(t, a, "l", []byte("secret"))
	_, err := b.Unseal(context.Background(), "l", blob)
	wantErr(t, err, ErrWrongMasterKey)
	assertNoKeyBytes(t, err, keyA)
	assertNoKeyBytes(t, err, keyB)
}

func TestSecretString(t *testing.T) {
	s, err := RandomSecret(32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	for _, f := range []string{"%v", "%s", "%#v", "%+v"} {
		out := sprintf(f, s)
		if out != "keyenv.Secret(32 bytes)" {
			t.Errorf("%s prints %q", f, out)
		}
	}
	held := s.Bytes()
	if bytes.Equal(held, make([]byte, 32)) {
		t.Fatal("RandomSecret is all zero")
	}
	s.Release()
	if !bytes.Equal(held, make([]byte, 32)) || s.Bytes() != nil || s.Len() != 0 {
		t.Fatal("Release did not zero the secret")
	}
	s.Release() // twice is fine
}
