package gcpkms

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/gcpkmstest"
	"github.com/atrest/atrest/keyenv"
)

func gcpSection(table, keyName, extra string) string {
	return fmt.Sprintf("[security.encryption.%s]\ntype = \"kms\"\nvendor = \"gcp\"\nkey-id = %q\n%s", table, keyName, extra)
}

// A TiKV configuration opens the key through keyenv.OpenMasterKeys; one
// seal is one Encrypt, one unseal one Decrypt, and neither the secret nor
// the data key shows in the blob.
func TestFromConfig(t *testing.T) {
	srv := newServer(t)
	name := srv.CreateKey("k1")
	m := backendtest.OpenConfig(t, "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n"+gcpSection("master-key", name, ""), fast...)
	if m.Current.Kind() != keyenv.KindKMS || !m.Current.Secure() || m.Current.ID() != "gcp-kms:"+name {
		t.Fatalf("kind %v secure %v id %q", m.Current.Kind(), m.Current.Secure(), m.Current.ID())
	}
	secret := []byte("key dictionary under Cloud KMS")
	blob := backendtest.MustSeal(t, m.Current, "key-dictionary", secret)
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed != nil {
		t.Fatalf("unseal: %v (resealed %v)", err, resealed != nil)
	}
	if !bytes.Equal(s.Bytes(), secret) {
		t.Fatal("unsealed another secret")
	}
	s.Release()
	if srv.Calls("Encrypt") != 1 || srv.Calls("Decrypt") != 1 {
		t.Fatalf("%d Encrypt and %d Decrypt calls for one seal and one unseal", srv.Calls("Encrypt"), srv.Calls("Decrypt"))
	}
	dataKeys := srv.Plaintexts()
	if len(dataKeys) != 1 || len(dataKeys[0]) != keyenv.SealingKeyBytes {
		t.Fatalf("Encrypt saw %d data keys", len(dataKeys))
	}
	if bytes.Contains(blob, secret) || bytes.Contains(blob, dataKeys[0]) {
		t.Fatal("the secret or the data key shows in the blob")
	}
}

// Rotation by configuration alone: master-key is the new key,
// previous-master-key the old one; blobs of the old key keep opening and
// come back resealed under the new one. Between two Cloud KMS keys, and
// between Cloud KMS and a key file both ways.
func TestRotationByConfig(t *testing.T) {
	srv := newServer(t)
	k1, k2 := srv.CreateKey("k1"), srv.CreateKey("k2")
	filePath := backendtest.KeyFile(t)
	fileSection := func(table string) string {
		return fmt.Sprintf("[security.encryption.%s]\ntype = \"file\"\npath = %q\n", table, filePath)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"gcp to gcp", gcpSection("master-key", k1, ""), gcpSection("master-key", k2, "") + gcpSection("previous-master-key", k1, "")},
		{"file to gcp", fileSection("master-key"), gcpSection("master-key", k2, "") + fileSection("previous-master-key")},
		{"gcp to file", gcpSection("master-key", k1, ""), fileSection("master-key") + gcpSection("previous-master-key", k1, "")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const header = "[security.encryption]\ndata-encryption-method = \"aes128-ctr\"\n"
			backendtest.CheckConfigRotation(t, backendtest.OpenConfig(t, header+tt.old, fast...), backendtest.OpenConfig(t, header+tt.new, fast...))
		})
	}
}

// Every error class: which sentinel, how many calls reached the service
// (retried classes are retried, the others are not), and what the message
// says.
func TestErrorMatrix(t *testing.T) {
	srv := newServer(t)
	name := srv.CreateKey("matrix")
	other := srv.CreateKey("other")
	b := openKey(t, srv, name)
	otherBlob := backendtest.MustSeal(t, openKey(t, srv, other), "l", []byte("s"))
	ownBlob := backendtest.MustSeal(t, b, "l", []byte("s"))
	// A blob that records this key but holds another key's ciphertext:
	// only Cloud KMS can tell.
	otherRef, err := keyenv.ParseSealedBlob(otherBlob)
	if err != nil {
		t.Fatal(err)
	}
	mislabelled := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: otherRef.KeyRef, KeyID: name}), "l", []byte("s"))
	for _, tt := range []struct {
		name   string
		setup  func()
		key    string // default: name
		unseal []byte // nil: seal
		want   error  // nil: success
		calls  int
		says   string
	}{
		{name: "unknown key", key: gcpkmstest.KeyName("missing"), want: keyenv.ErrKMSKeyNotFound, calls: 1, says: "no such key"},
		{name: "disabled key, seal", setup: func() { srv.SetState(name, gcpkmstest.Disabled) }, want: keyenv.ErrKMSKeyDisabled, calls: 1, says: "not enabled"},
		{name: "disabled key, unseal", setup: func() { srv.SetState(name, gcpkmstest.Disabled) }, unseal: ownBlob, want: keyenv.ErrKMSKeyDisabled, calls: 1},
		{name: "destroyed key", setup: func() { srv.SetState(name, gcpkmstest.Destroyed) }, want: keyenv.ErrKMSKeyDisabled, calls: 1, says: "DESTROYED"},
		{name: "permission denied", setup: func() { srv.Deny(name, true) }, want: keyenv.ErrKMSAccessDenied, calls: 1, says: "useToEncrypt"},
		{name: "unauthenticated", setup: func() { srv.Fail(codes.Unauthenticated, -1) }, want: keyenv.ErrKMSAccessDenied, calls: 1, says: "credentials were refused"},
		{name: "another key's blob", unseal: otherBlob, want: keyenv.ErrWrongMasterKey, calls: 0, says: "sealed by the kms key"},
		{name: "another key's ciphertext", unseal: mislabelled, want: keyenv.ErrWrongMasterKey, calls: 1, says: "cannot decrypt"},
		{name: "unavailable twice, then served", setup: func() { srv.Fail(codes.Unavailable, 2) }, calls: 3},
		{name: "throttled twice, then served", setup: func() { srv.Fail(codes.ResourceExhausted, 2) }, calls: 3},
		{name: "internal once, then served", setup: func() { srv.Fail(codes.Internal, 1) }, unseal: ownBlob, calls: 2},
		{name: "an attempt times out, then served", setup: func() { srv.Hang(1) }, calls: 2},
		{name: "always unavailable", setup: func() { srv.Fail(codes.Unavailable, -1) }, want: keyenv.ErrKMSUnreachable, calls: 3, says: "Unavailable after 3 attempts"},
		{name: "always throttled", setup: func() { srv.Fail(codes.ResourceExhausted, -1) }, want: keyenv.ErrKMSUnreachable, calls: 3, says: "ResourceExhausted"},
		{name: "always timing out", setup: func() { srv.Hang(-1) }, unseal: ownBlob, want: keyenv.ErrKMSUnreachable, calls: 3},
		{name: "answer corrupted in transit", setup: func() { srv.CorruptChecksums(1) }, want: keyenv.ErrKMSUnreachable, calls: 1, says: "CRC32C"},
		{name: "answer corrupted in transit, unseal", setup: func() { srv.CorruptChecksums(1) }, unseal: ownBlob, want: keyenv.ErrKMSUnreachable, calls: 1, says: "CRC32C"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			defer func() {
				srv.Fail(codes.OK, 0)
				srv.CorruptChecksums(0)
				srv.SetState(name, gcpkmstest.Enabled)
				srv.Deny(name, false)
			}()
			bk := b
			if tt.key != "" {
				bk = openKey(t, srv, tt.key)
			}
			method := "Encrypt"
			if tt.unseal != nil {
				method = "Decrypt"
			}
			before := srv.Calls(method)
			start := time.Now()
			var err error
			if tt.unseal != nil {
				var s *keyenv.Secret
				if s, err = bk.Unseal(context.Background(), "l", tt.unseal); err == nil {
					s.Release()
				}
			} else {
				_, err = bk.Seal(context.Background(), "l", []byte("s"))
			}
			if took := time.Since(start); took > callTimeout+slack {
				t.Errorf("took %v: retries are not bounded", took)
			}
			if calls := srv.Calls(method) - before; calls != tt.calls {
				t.Errorf("%d %s calls, want %d", calls, method, tt.calls)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("not retried: %v", err)
				}
				return
			}
			backendtest.WantOnly(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "gcp-kms:") {
				t.Errorf("error %q does not name the key or say %q", err, tt.says)
			}
			if n := strings.Count(err.Error(), "keyenv:"); n != 1 {
				t.Errorf("%q says keyenv: %d times", err, n)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a message of many lines: %q", err)
			}
			for _, dk := range srv.Plaintexts() {
				if strings.Contains(err.Error(), string(dk)) || strings.Contains(err.Error(), fmt.Sprintf("%x", dk)) {
					t.Fatalf("message shows a data key: %s", err)
				}
			}
			t.Log(err)
		})
	}
}

// The section's endpoint is where the client connects.
func TestEndpoint(t *testing.T) {
	srv := newServer(t)
	name := srv.CreateKey("k")
	sectionClientOptions = srv.ClientOptions()[1:] // no endpoint: the section's
	doc := "[security.encryption]\n" + gcpSection("master-key", name, "endpoint = \""+srv.Addr+"\"\n")
	m := backendtest.OpenConfig(t, doc, fast...)
	if want := "gcp-kms:" + name + " via " + srv.Addr; m.Current.ID() != want {
		t.Fatalf("id %q, want %q", m.Current.ID(), want)
	}
	backendtest.MustUnseal(t, m.Current, "l", backendtest.MustSeal(t, m.Current, "l", []byte("s")), []byte("s"))
	if srv.Calls("Encrypt") != 1 {
		t.Fatal("the call did not reach the endpoint")
	}
}

// A service that cannot be reached (a closed port, or a listener that
// accepts connections and never answers) fails with ErrKMSUnreachable
// within the configured bound, and MasterKeys does not take it for a wrong
// key.
func TestUnreachable(t *testing.T) {
	closedAddr := backendtest.ClosedAddr(t)
	silent := backendtest.SilentAddr(t)
	srv := gcpkmstest.New()
	defer srv.Close()
	name := srv.CreateKey("k")
	live := openKey(t, srv, name)
	blob := backendtest.MustSeal(t, live, "l", []byte("s"))
	file := backendtest.NewFileBackend(t)
	for _, addr := range []string{closedAddr, silent} {
		t.Run(addr, func(t *testing.T) {
			opts := append(srv.ClientOptions(), option.WithEndpoint(addr)) // the later endpoint wins
			b, err := Open(context.Background(), Config{KeyName: name, ClientOptions: opts}, fast...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			start := time.Now()
			_, err = b.Seal(context.Background(), "l", []byte("s"))
			backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
			if took := time.Since(start); took > callTimeout+slack {
				t.Fatalf("a seal took %v", took)
			}
			start = time.Now()
			m := &keyenv.MasterKeys{Current: b, Previous: file}
			_, _, err = m.Unseal(context.Background(), "l", blob)
			backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
			if took := time.Since(start); took > callTimeout+slack {
				t.Fatalf("an unseal took %v", took)
			}
		})
	}
}

// The whole-call timeout bounds a call however many attempts are left.
func TestCallTimeout(t *testing.T) {
	srv := gcpkmstest.New()
	defer srv.Close()
	b, err := Open(context.Background(), Config{KeyName: srv.CreateKey("k"), ClientOptions: srv.ClientOptions()},
		keyenv.WithKMSAttempts(10), keyenv.WithKMSTimeouts(400*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.Hang(-1)
	start := time.Now()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantOnly(t, err, keyenv.ErrKMSUnreachable)
	if took := time.Since(start); took > 400*time.Millisecond+slack {
		t.Fatalf("a 400 ms call took %v (10 attempts of 5 s were allowed)", took)
	}
}

// The label and the format version are Cloud KMS's additional
// authenticated data: a blob whose header label was forged does not get
// its data key out of Cloud KMS. A reference of another vendor's KMS is a
// wrong master key, found without a call.
func TestBindingAndForeignRefs(t *testing.T) {
	srv := newServer(t)
	b := openKey(t, srv, srv.CreateKey("k"))
	blob := backendtest.MustSeal(t, b, "key-dictionary", []byte("dict"))
	forged := bytes.Replace(blob, []byte("key-dictionary"), []byte("key-dictionarz"), 1)
	_, err := b.Unseal(context.Background(), "key-dictionarz", forged)
	backendtest.WantOnly(t, err, keyenv.ErrWrongMasterKey)

	foreign := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: []byte("\x01\x02\x02\x00aws-ciphertext"), KeyID: "alias/tikv in us-west-2"}), "l", []byte("s"))
	calls := srv.Calls("Decrypt")
	_, err = b.Unseal(context.Background(), "l", foreign)
	backendtest.WantOnly(t, err, keyenv.ErrWrongMasterKey)
	if srv.Calls("Decrypt") != calls {
		t.Fatal("asked Cloud KMS to decrypt another vendor's reference")
	}
	for _, ref := range []string{refTag, refTag + "\x00ct", refTag + "\xffct"} {
		bad := backendtest.MustSeal(t, keyenv.NewEnvelope(backendtest.FixedSource{Ref: []byte(ref), KeyID: gcpkmstest.KeyName("k")}), "l", []byte("s"))
		_, err = b.Unseal(context.Background(), "l", bad)
		backendtest.WantErr(t, err, keyenv.ErrCorruptBlob)
	}
}

// The credentials file: missing, unreadable or malformed files are
// configuration errors that name the file and never show its content; a
// well-formed one opens.
func TestCredentialFile(t *testing.T) {
	name := gcpkmstest.KeyName("k") // no call is made
	dir := t.TempDir()
	const marker = "PRIVATE-KEY-MATERIAL-7f3a"
	write := func(file, content string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, der := serviceAccountKey(t)
	good := write("sa.json", serviceAccount(t, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))))
	for _, tt := range []struct {
		name, path, says string
	}{
		{"missing", filepath.Join(dir, "absent.json"), "does not exist"},
		{"a directory", dir, "cannot be read"},
		{"not JSON", write("bad.json", marker+`{"type":`), "not a JSON credentials file"},
		{"truncated JSON", write("trunc.json", `{"type":"service_account","private_key":"`+marker), "not a JSON credentials file"},
		{"unknown type", write("odd.json", `{"type":"`+marker+`"}`), "not supported"},
		{"no type", write("none.json", `{"private_key":"`+marker+`"}`), "not supported"},
		{"service account with a bad key", write("badkey.json", serviceAccount(t, "-----BEGIN PRIVATE KEY-----\n"+marker+"\n-----END PRIVATE KEY-----\n")), "cannot be used"},
		{"service account with a truncated key", write("cutkey.json", serviceAccount(t, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der[:len(der)/2]})))), "cannot be used"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := "[security.encryption]\n" + gcpSection("master-key", name, "[security.encryption.master-key.gcp]\ncredential-file-path = "+fmt.Sprintf("%q", tt.path)+"\n")
			c, err := keyenv.ParseConfig([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = keyenv.OpenMasterKeys(context.Background(), c, fast...)
			backendtest.WantOnly(t, err, keyenv.ErrConfig)
			t.Log(err)
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name the file or say %q", err, tt.says)
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "7f3a") || strings.Contains(err.Error(), "asn1") {
				t.Errorf("error %q shows the file's content", err)
			}
		})
	}
	if os.Getuid() != 0 {
		p := write("locked.json", `{}`)
		os.Chmod(p, 0)
		_, err := Open(context.Background(), Config{KeyName: name, CredentialFilePath: p})
		backendtest.WantOnly(t, err, keyenv.ErrConfig)
		if !strings.Contains(err.Error(), "may not be read") {
			t.Errorf("error %q", err)
		}
	}
	b, err := Open(context.Background(), Config{KeyName: name, CredentialFilePath: good}, fast...)
	if err != nil {
		t.Fatalf("a well-formed service account file: %v", err)
	}
	b.Close()
}

// The credentials file is what the client authenticates with: against a
// server that requires the service account's signature (over TLS), the
// account's file opens the key, another account's file is refused with
// ErrKMSAccessDenied, and no message shows the file's content.
func TestCredentialFileUsed(t *testing.T) {
	key, der := serviceAccountKey(t)
	_, otherDER := serviceAccountKey(t)
	srv := gcpkmstest.NewWithOptions(gcpkmstest.Options{ServiceAccountKey: &key.PublicKey})
	defer srv.Close()
	name := srv.CreateKey("k")
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		der  []byte
		want error
	}{{"the service account", der, nil}, {"another service account", otherDER, keyenv.ErrKMSAccessDenied}} {
		t.Run(tt.name, func(t *testing.T) {
			keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: tt.der}))
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(serviceAccount(t, keyPEM)), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := Open(context.Background(), Config{KeyName: name, CredentialFilePath: path, ClientOptions: srv.ClientOptions()}, fast...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			blob, err := b.Seal(context.Background(), "l", []byte("s"))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
				return
			}
			backendtest.WantOnly(t, err, tt.want)
			keyLine := strings.Split(keyPEM, "\n")[1]
			if strings.Contains(err.Error(), keyLine) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error %q shows the credentials", err)
			}
		})
	}
	if srv.Calls("Encrypt") != 2 || srv.Calls("Decrypt") != 1 {
		t.Fatalf("%d Encrypt and %d Decrypt calls", srv.Calls("Encrypt"), srv.Calls("Decrypt"))
	}
}

// Importing the package registers vendor "gcp"; the key-id must be a
// CryptoKey name.
func TestRegisteredAndKeyNames(t *testing.T) {
	srv := newServer(t)
	name := srv.CreateKey("k")
	backendtest.OpenRegistered(t, keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: "gcp", KeyID: name}, fast...)
	for _, bad := range []string{"", "k", "projects/p/locations/l/keyRings/r", name + "/cryptoKeyVersions/1", "projects//locations/l/keyRings/r/cryptoKeys/k"} {
		_, err := keyenv.OpenBackend(context.Background(), keyenv.MasterKeyConfig{Type: keyenv.KindKMS, Vendor: "gcp", KeyID: bad})
		backendtest.WantOnly(t, err, keyenv.ErrConfig)
		if strings.Contains(bad, "cryptoKeyVersions") && !strings.Contains(err.Error(), "not one of its versions") {
			t.Errorf("error %q gives no hint", err)
		}
	}
}
