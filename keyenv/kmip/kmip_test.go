package kmip

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kmipgo "github.com/ovh/kmip-go"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/kmiptest"
	"github.com/atrest/atrest/keyenv"
)

func TestKMIPFromConfig(t *testing.T) {
	srv := needServer(t)
	id := createKey(t, "atrest", true)
	cert, key := clientCert(t, "atrest")
	c, err := keyenv.ParseConfig([]byte(`[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "kmip"
endpoints = ["` + srv.Addr + `"]
key-id = "` + id + `"
client-certificate = "` + cert + `"
client-key = "` + key + `"
ca-file = "` + srv.CAFile + `"
server-name = "` + srv.ServerName + `"
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c, fastKMIP...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Current.Kind() != keyenv.KindKMIP || m.Current.ID() != "kmip:"+srv.Addr+" key "+id {
		t.Fatalf("kind %v id %q", m.Current.Kind(), m.Current.ID())
	}
	secret := []byte("key dictionary under KMIP")
	blob := backendtest.MustSeal(t, m.Current, "key-dictionary", secret)
	s, resealed, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil || resealed != nil {
		t.Fatalf("unseal: %v", err)
	}
	defer s.Release()
	if !bytes.Equal(s.Bytes(), secret) || bytes.Contains(blob, secret) {
		t.Fatalf("unsealed %q", s.Bytes())
	}
	// Two seals draw two data keys: the references differ.
	sb1, _ := keyenv.ParseSealedBlob(blob)
	sb2, _ := keyenv.ParseSealedBlob(backendtest.MustSeal(t, m.Current, "key-dictionary", secret))
	r1, err1 := parseRef(sb1.KeyRef)
	r2, err2 := parseRef(sb2.KeyRef)
	if err1 != nil || err2 != nil || r1.keyID != id || bytes.Equal(r1.ciphertext, r2.ciphertext) || bytes.Equal(r1.nonce, r2.nonce) {
		t.Fatalf("references %+v %+v (%v %v)", r1, r2, err1, err2)
	}
}

// Rotation by configuration, between two KMIP keys and with a key file.
func TestKMIPRotationByConfiguration(t *testing.T) {
	oldKey := open(t, settings(t, "atrest", createKey(t, "atrest", true)))
	newKey := open(t, settings(t, "atrest", createKey(t, "atrest", true)))
	file := backendtest.NewFileBackend(t)
	for _, tt := range []struct {
		name              string
		previous, current keyenv.Backend
	}{
		{"kmip key to kmip key", oldKey, newKey},
		{"key file to kmip", file, newKey},
		{"kmip to key file", oldKey, file},
	} {
		t.Run(tt.name, func(t *testing.T) { backendtest.CheckRotation(t, tt.previous, tt.current) })
	}
}

// pemBody is the base64 of a PEM file, what no message may show of a
// private key.
func pemBody(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return lines
}

// Every error class, each with its own sentinel, naming the key, and
// showing nothing of a private key.
func TestKMIPErrorMatrix(t *testing.T) {
	srv := needServer(t)
	good := settings(t, "atrest", createKey(t, "atrest", true))
	b := open(t, good)
	blob := backendtest.MustSeal(t, b, "key-dictionary", []byte("dict"))
	sb, _ := keyenv.ParseSealedBlob(blob)
	other := open(t, settings(t, "atrest", createKey(t, "atrest", true)))

	// The same key id on another server is another key: a reference
	// whose id matches but whose ciphertext the key does not open.
	r, _ := parseRef(sb.KeyRef)
	r.ciphertext = bytes.Clone(r.ciphertext)
	r.ciphertext[0] ^= 1
	altered := bytes.Replace(blob, sb.KeyRef, r.marshal(), 1)
	forged := bytes.Replace(blob, []byte("key-dictionary"), []byte("key-dictionarz"), 1)

	revokedID := createKey(t, "atrest", true)
	revoked := open(t, settings(t, "atrest", revokedID))
	revokedBlob := backendtest.MustSeal(t, revoked, "key-dictionary", []byte("dict"))
	if _, err := admin(t, "atrest").Revoke(revokedID).WithRevocationReasonCode(kmipgo.RevocationReasonCodeCessationOfOperation).Exec(); err != nil {
		t.Fatal(err)
	}
	destroyedID := createKey(t, "atrest", true)
	destroyed := open(t, settings(t, "atrest", destroyedID))
	destroyedBlob := backendtest.MustSeal(t, destroyed, "key-dictionary", []byte("dict"))
	a := admin(t, "atrest")
	if _, err := a.Revoke(destroyedID).WithRevocationReasonCode(kmipgo.RevocationReasonCodeCessationOfOperation).Exec(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Destroy(destroyedID).Exec(); err != nil {
		t.Fatal(err)
	}

	foreignDir := t.TempDir()
	foreignCert, foreignKey, err := kmiptest.ForeignClientCert(foreignDir, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	serverOnlyCert, serverOnlyKey, err := srv.ServerAuthCert(foreignDir, "atrest")
	if err != nil {
		t.Fatal(err)
	}
	_, atrestKey := clientCert(t, "atrest")
	_, bobKey := clientCert(t, "bob")
	hide := slices.Concat(pemBody(t, atrestKey), pemBody(t, bobKey), pemBody(t, foreignKey), pemBody(t, serverOnlyKey))

	unseal := func(b keyenv.Backend, label string, blob []byte) error {
		_, err := b.Unseal(context.Background(), label, blob)
		return err
	}
	seal := func(mod func(*keyenv.KMIPSettings)) error {
		s := good
		mod(&s)
		_, err := open(t, s).Seal(context.Background(), "key-dictionary", []byte("dict"))
		return err
	}
	for _, tt := range []struct {
		name     string
		err      error
		sentinel error
		says     string
	}{
		{"blob of another key", unseal(other, "key-dictionary", blob), keyenv.ErrWrongMasterKey, "sealed by the kmip key \"" + good.KeyID + "\""},
		{"reference the key does not open", unseal(b, "key-dictionary", altered), keyenv.ErrWrongMasterKey, "cannot decrypt"},
		{"label forged in the header", unseal(b, "key-dictionarz", forged), keyenv.ErrWrongMasterKey, "cannot decrypt"},
		{"no such key", seal(func(s *keyenv.KMIPSettings) { s.KeyID = "424242" }), keyenv.ErrKMSKeyNotFound, "ItemNotFound"},
		{"destroyed key", unseal(destroyed, "key-dictionary", destroyedBlob), keyenv.ErrKMSKeyNotFound, "no such key"},
		{"pre-active key", seal(func(s *keyenv.KMIPSettings) { s.KeyID = createKey(t, "atrest", false) }), keyenv.ErrKMSKeyDisabled, "PreActive"},
		{"revoked key", unseal(revoked, "key-dictionary", revokedBlob), keyenv.ErrKMSKeyDisabled, "Deactivated"},
		{"another client's key", seal(func(s *keyenv.KMIPSettings) { s.ClientCert, s.ClientKey = clientCert(t, "bob") }),
			keyenv.ErrKMSAccessDenied, "may not use the key"},
		{"client certificate of another CA", seal(func(s *keyenv.KMIPSettings) { s.ClientCert, s.ClientKey = foreignCert, foreignKey }),
			keyenv.ErrKMSAccessDenied, "refused the TLS client certificate"},
		{"certificate not for client authentication", seal(func(s *keyenv.KMIPSettings) { s.ClientCert, s.ClientKey = serverOnlyCert, serverOnlyKey }),
			keyenv.ErrKMSAccessDenied, "refused the TLS client certificate"},
		{"no client certificate", seal(func(s *keyenv.KMIPSettings) { s.ClientCert, s.ClientKey = "", "" }),
			keyenv.ErrKMSAccessDenied, "refused the TLS client certificate"},
		{"server certificate of an unknown CA", seal(func(s *keyenv.KMIPSettings) { s.CAFile = "" }), keyenv.ErrKMSUnreachable, "not trusted"},
		{"server certificate for another name", seal(func(s *keyenv.KMIPSettings) { s.ServerName = "kmip.example.org" }), keyenv.ErrKMSUnreachable, "not trusted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Log(tt.err)
			backendtest.WantErr(t, tt.err, tt.sentinel)
			for _, s := range []string{tt.says, "kmip:" + srv.Addr + " key "} {
				if !strings.Contains(tt.err.Error(), s) {
					t.Errorf("error %q does not say %q", tt.err, s)
				}
			}
			if n := strings.Count(tt.err.Error(), "keyenv:"); n != 1 {
				t.Errorf("%q says keyenv: %d times", tt.err, n)
			}
			for _, line := range hide {
				if strings.Contains(tt.err.Error(), line) {
					t.Fatalf("error %q shows a private key", tt.err)
				}
			}
		})
	}
}

// A client key file that does not load is a configuration error that
// names the file and shows none of it.
func TestKMIPBadSettings(t *testing.T) {
	dir := t.TempDir()
	secretish := "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgATRESTSECRET"
	bad := filepath.Join(dir, "client.key")
	os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\n"+secretish+"\n-----END PRIVATE KEY-----\n"), 0o600)
	cert := filepath.Join(dir, "client.pem")
	os.WriteFile(cert, []byte("not a certificate "+secretish+"\n"), 0o600)
	for _, s := range []keyenv.KMIPSettings{
		{KeyID: "1"},
		{Endpoints: []string{"h:5696"}},
		{Endpoints: []string{"no-port"}, KeyID: "1"},
		{Endpoints: []string{"h:5696"}, KeyID: "1", ClientCert: cert},
		{Endpoints: []string{"h:5696"}, KeyID: "1", ClientCert: cert, ClientKey: bad},
		{Endpoints: []string{"h:5696"}, KeyID: "1", ClientCert: "/nonexistent/c.pem", ClientKey: bad},
		{Endpoints: []string{"h:5696"}, KeyID: "1", CAFile: bad},
		{Endpoints: []string{"h:5696"}, KeyID: "1", CAFile: "/nonexistent/ca.pem"},
	} {
		_, err := Open(context.Background(), s)
		if !errors.Is(err, keyenv.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", s, err)
			continue
		}
		if strings.Contains(err.Error(), "TESTSECRET") {
			t.Errorf("error %q shows the key file", err)
		}
	}
}

// A dead endpoint, or one that accepts and never answers, is unreachable
// after bounded retries, and MasterKeys does not fall back; a live
// endpoint later in the list is used.
func TestKMIPUnreachableAndFailover(t *testing.T) {
	good := settings(t, "atrest", createKey(t, "atrest", true))
	blob := backendtest.MustSeal(t, open(t, good), "l", []byte("s"))

	dead := backendtest.ClosedAddr(t)
	hang := backendtest.SilentAddr(t)

	short := []keyenv.Option{keyenv.WithKMSAttempts(3), keyenv.WithKMSTimeouts(5*time.Second, 300*time.Millisecond)}
	for _, tt := range []struct {
		name      string
		endpoints []string
		says      string
	}{
		{"closed port", []string{dead}, "network error after 3 attempts over 1 endpoints"},
		{"never answers", []string{hang}, "after 3 attempts"},
		{"both", []string{dead, hang}, "over 2 endpoints"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			s.Endpoints = tt.endpoints
			b := open(t, s, short...)
			m := &keyenv.MasterKeys{Current: b, Previous: backendtest.NewFileBackend(t)}
			start := time.Now()
			_, _, err := m.Unseal(context.Background(), "l", blob)
			t.Log(err)
			backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
			if errors.Is(err, keyenv.ErrBothMasterKeysFailed) {
				t.Fatal("fell back to the previous key because the server was down")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %v: retries are not bounded", took)
			}
		})
	}
	s := good
	s.Endpoints = []string{dead, hang, good.Endpoints[0]}
	b := open(t, s, short...)
	backendtest.MustUnseal(t, b, "l", blob, []byte("s"))
	backendtest.MustUnseal(t, b, "l", backendtest.MustSeal(t, b, "l", []byte("t")), []byte("t"))
	if !strings.HasPrefix(b.ID(), "kmip:"+dead+" key ") {
		t.Errorf("id %q does not name the first endpoint", b.ID())
	}
}

// The whole-call timeout bounds a call however many attempts are left.
func TestKMIPCallTimeout(t *testing.T) {
	hang := backendtest.SilentAddr(t)
	b, err := Open(context.Background(), keyenv.KMIPSettings{Endpoints: []string{hang}, KeyID: "1"},
		keyenv.WithKMSAttempts(10), keyenv.WithKMSTimeouts(400*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Seal(context.Background(), "l", []byte("s"))
	backendtest.WantErr(t, err, keyenv.ErrKMSUnreachable)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a 400 ms call took %v", took)
	}
}

// Importing the package registers it for type "kmip".
func TestRegistered(t *testing.T) {
	s := settings(t, "atrest", createKey(t, "atrest", true))
	b := backendtest.OpenRegistered(t, keyenv.MasterKeyConfig{Type: keyenv.KindKMIP, KeyID: s.KeyID, KMIP: s}, fastKMIP...)
	if b.Kind() != keyenv.KindKMIP || !b.Secure() {
		t.Fatalf("kind %v secure %v", b.Kind(), b.Secure())
	}
}

// A blob records the key's unique identifier, not the endpoints: the same
// server reached through another endpoint list opens it.
func TestKMIPRecordOmitsEndpoints(t *testing.T) {
	srv := needServer(t)
	s := settings(t, "atrest", createKey(t, "atrest", true))
	blob := backendtest.MustSeal(t, open(t, s, fastKMIP...), "key-dictionary", []byte("secret"))
	sb, err := keyenv.ParseSealedBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := sb.Record(); !ok || string(r.Identity) != s.KeyID {
		got := string(r.Identity)
		t.Fatalf("recorded identity %q, want the key id %q", got, s.KeyID)
	}
	deadAddr := backendtest.ClosedAddr(t)
	s.Endpoints = []string{deadAddr, srv.Addr}
	backendtest.MustUnseal(t, open(t, s, fastKMIP...), "key-dictionary", blob, []byte("secret"))
}
