package keyenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestKeyringLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("pw"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	if _, err := CreateKeyring(path, []byte("pw"), cheapKDF); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second create: %v", err)
	}
	for _, name := range []string{"tikv", "backup", "a.b-c_d"} {
		e, err := kr.AddKey(name)
		if err != nil || e.Version != 1 || e.Name != name {
			t.Fatalf("AddKey(%s) = %+v, %v", name, e, err)
		}
	}
	if _, err := kr.AddKey("tikv"); !errors.Is(err, ErrKeyringKeyExists) {
		t.Fatalf("AddKey twice: %v", err)
	}
	if _, err := kr.RotateKey("nope"); !errors.Is(err, ErrKeyringKeyNotFound) {
		t.Fatalf("RotateKey of a missing key: %v", err)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("k", 65), "slash/"} {
		if _, err := kr.AddKey(bad); err == nil {
			t.Errorf("AddKey(%q) accepted", bad)
		}
	}
	e, err := kr.RotateKey("tikv")
	if err != nil || e.Version != 2 {
		t.Fatalf("RotateKey = %+v, %v", e, err)
	}
	want := []string{"a.b-c_d/1", "backup/1", "tikv/1", "tikv/2"}
	check := func(k *Keyring) {
		t.Helper()
		var got []string
		for _, e := range k.Keys() {
			got = append(got, fmt.Sprintf("%s/%d", e.Name, e.Version))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
	}
	check(kr)
	again, err := OpenKeyring(path, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check(again)
	for _, e := range again.Keys() {
		a, _, err := kr.key(e.Name, e.Version)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := again.key(e.Name, e.Version)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("%s/%d differs after reopening", e.Name, e.Version)
		}
		a.Release()
		b.Release()
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("keyring mode %04o, want 0600", st.Mode().Perm())
	}
	if again.Params() != cheapKDF {
		t.Errorf("params %+v", again.Params())
	}
}

func TestKeyringWrongPasswordAndTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("right"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	kr.AddKey("k")
	kr.Close()
	_, err = OpenKeyring(path, []byte("wrong"))
	wantErr(t, err, ErrWrongPassword)

	data, _ := os.ReadFile(path)
	for i := range len(data) * 8 {
		bad := bytes.Clone(data)
		bad[i/8] ^= 1 << (i % 8)
		os.WriteFile(path, bad, 0o600)
		k, err := OpenKeyring(path, []byte("right"), WithKDFLimits(KDFLimits{MaxTime: 4, MaxMemoryKiB: 1024}))
		if err == nil {
			k.Close()
			t.Fatalf("bit %d flipped: keyring still opens", i)
		}
		if !errors.Is(err, ErrBadKeyring) && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	// A flip in the ciphertext is an altered file, not a wrong password.
	bad := bytes.Clone(data)
	bad[len(bad)-20] ^= 1
	os.WriteFile(path, bad, 0o600)
	_, err = OpenKeyring(path, []byte("right"))
	wantErr(t, err, ErrBadKeyring)
	if errors.Is(err, ErrWrongPassword) {
		t.Fatal("an altered payload reported as a wrong password")
	}
	bad = bytes.Clone(data)
	bad[4] = 9
	os.WriteFile(path, bad, 0o600)
	_, err = OpenKeyring(path, []byte("right"))
	wantErr(t, err, ErrUnknownVersion)
}

func TestKeyringKDFLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("pw"), KDFParams{Time: 2, MemoryKiB: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	kr.Close()
	_, err = OpenKeyring(path, []byte("pw"), WithKDFLimits(KDFLimits{MaxTime: 1, MaxMemoryKiB: 1 << 20}))
	wantErr(t, err, ErrBadKeyring)
	_, err = OpenKeyring(path, []byte("pw"), WithKDFLimits(KDFLimits{MaxTime: 10, MaxMemoryKiB: 128}))
	wantErr(t, err, ErrBadKeyring)
	if _, err := CreateKeyring(filepath.Join(t.TempDir(), "k"), []byte("pw"), KDFParams{}); err == nil {
		t.Fatal("zero KDF parameters accepted")
	}
	if _, err := CreateKeyring(filepath.Join(t.TempDir(), "k"), nil, cheapKDF); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("empty password: %v", err)
	}
}

// Two handles on one keyring (as two processes would have) adding keys at
// the same time never lose one: each change re-reads the file under the
// lock.
func TestKeyringConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	first, err := CreateKeyring(path, []byte("pw"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := OpenKeyring(path, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var wg sync.WaitGroup
	for w, kr := range []*Keyring{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if _, err := kr.AddKey(fmt.Sprintf("w%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	final, err := OpenKeyring(path, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer final.Close()
	if n := len(final.Keys()); n != 20 {
		t.Fatalf("%d keys after 20 concurrent adds", n)
	}
}

func TestKeyringBackendRotation(t *testing.T) {
	b, kr, path := newKeyringBackend(t, "tikv")
	ctx := context.Background()
	v1 := mustSeal(t, b, "l", []byte("sealed under v1"))
	// Another handle (another process) rotates the key.
	other, err := OpenKeyring(path, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.RotateKey("tikv"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	v2 := mustSeal(t, b, "l", []byte("sealed under v2"))
	refVersion := func(blob []byte) byte {
		sb, _ := ParseSealedBlob(blob)
		return sb.KeyRef[len(sb.KeyRef)-keyCheckBytes-1]
	}
	if refVersion(v1) != 1 || refVersion(v2) != 2 {
		t.Fatalf("versions %d and %d, want 1 and 2", refVersion(v1), refVersion(v2))
	}
	mustUnseal(t, b, "l", v1, []byte("sealed under v1"))
	mustUnseal(t, b, "l", v2, []byte("sealed under v2"))
	// The first handle (kr) sees the rotation after its next change.
	kr.AddKey("other")
	if len(kr.Keys()) != 3 {
		t.Fatalf("keys %v", kr.Keys())
	}
	// Another key of the same keyring is another master key.
	ob, err := OpenKeyringBackend(path, "other", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	_, err = ob.Unseal(ctx, "l", v1)
	wantErr(t, err, ErrWrongMasterKey)
	// Same name and version in another keyring: wrong master key too.
	b2, _, _ := newKeyringBackend(t, "tikv")
	_, err = b2.Unseal(ctx, "l", v1)
	wantErr(t, err, ErrWrongMasterKey)
	if _, err := OpenKeyringBackend(path, "absent", []byte("correct horse")); !errors.Is(err, ErrKeyringKeyNotFound) {
		t.Fatalf("backend on a missing key: %v", err)
	}
}

func TestKeyringChangePassword(t *testing.T) {
	b, kr, path := newKeyringBackend(t, "k")
	blob := mustSeal(t, b, "l", []byte("s"))
	if err := kr.ChangePassword([]byte("new password"), cheapKDF); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(path, []byte("correct horse")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password: %v", err)
	}
	nb, err := OpenKeyringBackend(path, "k", []byte("new password"))
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	mustUnseal(t, nb, "l", blob, []byte("s"))
	// The backend opened with the old password still holds its keys, and
	// says clearly that it needs the new password to read the file again.
	mustUnseal(t, b, "l", blob, []byte("s"))
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	wantErr(t, err, ErrWrongPassword)
}

func TestKeyringZeroedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	kr, err := CreateKeyring(path, []byte("pw"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	kr.AddKey("k")
	payload, kek := kr.payload.Bytes(), kr.kek.Bytes()
	kr.Close()
	if !bytes.Equal(payload, make([]byte, len(payload))) || !bytes.Equal(kek, make([]byte, len(kek))) {
		t.Fatal("keyring key material not zeroed on Close")
	}
	if _, err := kr.AddKey("x"); err == nil {
		t.Fatal("AddKey after Close worked")
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	env := map[string]string{"PW": "from env", "EMPTY": ""}
	getenv := WithGetenv(func(k string) string { return env[k] })
	for _, tt := range []struct {
		name      string
		env, file string
		want      string
		err       error
	}{
		{"env", "PW", "", "from env", nil},
		{"file", "", write("a", "from file\n"), "from file", nil},
		{"file CRLF", "", write("b", "crlf\r\n"), "crlf", nil},
		{"file no newline", "", write("c", "bare"), "bare", nil},
		{"file keeps inner spaces", "", write("d", " sp ace \n"), " sp ace ", nil},
		{"empty env", "EMPTY", "", "", ErrNoPassword},
		{"unset env", "UNSET", "", "", ErrNoPassword},
		{"empty file", "", write("e", "\n"), "", ErrNoPassword},
		{"missing file", "", filepath.Join(dir, "none"), "", ErrNoPassword},
		{"neither", "", "", "", ErrNoPassword},
		{"both", "PW", write("f", "x\n"), "", ErrConfig},
	} {
		s, err := ReadPassword(tt.env, tt.file, getenv)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || string(s.Bytes()) != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, s.Bytes(), err, tt.want)
		}
		s.Release()
	}
}
