package awskms

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

// The tests in this file run against moto's KMS server (see startMoto): a
// third-party implementation of the KMS API, which answers some requests
// differently from AWS (a Decrypt naming another key is
// AccessDeniedException, not IncorrectKeyException; a disabled key keeps
// working).

const motoRegion = "us-west-2"

// deadEndpoint is an http URL on 127.0.0.1 where nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// The AWS backend passes the conformance suite against moto with IAM
// checks on: the keys are used with an IAM user's access key given as
// static credentials (the [aws] sub-table), and the user without KMS
// permissions is the denied key. Its secret access key is the secret no
// message may show.
func TestMotoConformance(t *testing.T) {
	m := motoEnv(t)
	okID, okSecret := m.iamUser(t, "atrest", true)
	noID, noSecret := m.iamUser(t, "nobody", false)
	key1, key2 := m.createKey(t, motoRegion), m.createKey(t, motoRegion)
	m.enableAuth(t)
	open := func(c Config) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			if c.Endpoint == "" {
				c.Endpoint = m.URL
			}
			if c.AccessKey == "" {
				c.AccessKey, c.SecretAccessKey = okID, okSecret
			}
			c.Region = motoRegion
			return Open(context.Background(), c, fastKMS...)
		}
	}
	t.Log("moto serves a disabled key (see TestMotoDisabledKey): the disabled case is checked against the in-repo fake")
	backendtest.Run(t, backendtest.Env{
		Working:           open(Config{KeyID: key1}),
		Second:            open(Config{KeyID: key2}),
		Missing:           open(Config{KeyID: "00000000-1111-2222-3333-444444444444"}),
		Denied:            open(Config{KeyID: key1, AccessKey: noID, SecretAccessKey: noSecret}),
		Unreachable:       open(Config{KeyID: key1, Endpoint: deadEndpoint(t)}),
		UnreachableWithin: 5 * time.Second,
		Secret:            okSecret,
	})
}

// The same suite against the in-repo fake, which can also disable a key.
func TestFakeConformance(t *testing.T) {
	srv := kmsEnv(t)
	key1, key2, off := srv.CreateKey(), srv.CreateKey(), srv.CreateKey()
	srv.DisableKey(off)
	open := func(c Config) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			if c.Endpoint == "" {
				c.Endpoint = srv.URL
			}
			if c.AccessKey == "" {
				c.AccessKey, c.SecretAccessKey = testAKID, testSecret
			}
			c.Region = testRegion
			return Open(context.Background(), c, fastKMS...)
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:           open(Config{KeyID: key1}),
		Second:            open(Config{KeyID: key2}),
		Missing:           open(Config{KeyID: "00000000-1111-2222-3333-444444444444"}),
		Disabled:          open(Config{KeyID: off}),
		Denied:            open(Config{KeyID: key1, AccessKey: testAKID, SecretAccessKey: "not-" + testSecret}),
		Unreachable:       open(Config{KeyID: key1, Endpoint: deadEndpoint(t)}),
		UnreachableWithin: 5 * time.Second,
		Secret:            testSecret,
	})
}

// Rotation by configuration alone (master-key the new key,
// previous-master-key the old) against moto: the blob says which key
// sealed it, so the old key opens it and the new one reseals it, although
// moto answers a Decrypt under the wrong key with AccessDeniedException.
// A blob of format version 1, which says nothing, shows why: trying the
// new key first gets access denied, which is not a reason to try another
// key.
func TestMotoRotationByConfiguration(t *testing.T) {
	m := motoEnv(t)
	key1, key2 := m.createKey(t, motoRegion), m.createKey(t, motoRegion)
	section := func(name, id string) string {
		return "[security.encryption." + name + "]\ntype = \"kms\"\nkey-id = \"" + id + "\"\nregion = \"" + motoRegion + "\"\nendpoint = \"" + m.URL + "\"\n"
	}
	parse := func(toml string) keyenv.Config {
		c, err := keyenv.ParseConfig([]byte("[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n" + toml))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	open := func(c keyenv.Config) *keyenv.MasterKeys {
		mk, err := keyenv.OpenMasterKeys(context.Background(), c, fastKMS...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mk.Close() })
		return mk
	}
	ctx := context.Background()
	before := open(parse(section("master-key", key1)))
	blob, err := before.Seal(ctx, "key-dictionary", []byte("the dictionary"))
	if err != nil {
		t.Fatal(err)
	}

	rotating := open(parse(section("master-key", key2) + section("previous-master-key", key1)))
	s, resealed, err := rotating.Unseal(ctx, "key-dictionary", blob)
	if err != nil || resealed == nil {
		t.Fatalf("rotation by configuration: resealed %v, %v", resealed != nil, err)
	}
	s.Release()
	after := open(parse(section("master-key", key2)))
	backendtest.MustUnseal(t, after.Current, "key-dictionary", resealed, []byte("the dictionary"))
	if _, err := before.Current.Unseal(ctx, "key-dictionary", resealed); !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Fatalf("the old key opening the resealed blob: %v", err)
	}

	// Version 1: moto's answer to the new key stops the trial.
	src, err := newKMSKey(ctx, Config{KeyID: key1, Region: motoRegion, Endpoint: m.URL}, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	old := sealV1(t, src, "key-dictionary", []byte("the dictionary"))
	backendtest.MustUnseal(t, before.Current, "key-dictionary", old, []byte("the dictionary"))
	_, _, err = rotating.Unseal(ctx, "key-dictionary", old)
	backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
	t.Logf("a version 1 blob under rotation by configuration on moto: %v", err)
}

// The error classes against moto, by what an operator gets wrong.
func TestMotoErrors(t *testing.T) {
	m := motoEnv(t)
	ctx := context.Background()
	key := m.createKey(t, motoRegion)
	other := m.createKey(t, motoRegion)
	elsewhere := m.createKey(t, "eu-central-1")
	good := openMoto(t, m, Config{KeyID: key, Region: motoRegion})
	blob := backendtest.MustSeal(t, good, "key-dictionary", []byte("dict"))

	for _, tt := range []struct {
		name string
		c    Config
		want error
		says string
	}{
		{"unknown key id", Config{KeyID: "00000000-1111-2222-3333-444444444444", Region: motoRegion}, keyenv.ErrKMSKeyNotFound, "NotFoundException"},
		{"unknown alias", Config{KeyID: "alias/not-there", Region: motoRegion}, keyenv.ErrKMSKeyNotFound, "alias/not-there"},
		{"a key of another region", Config{KeyID: elsewhere, Region: motoRegion}, keyenv.ErrKMSKeyNotFound, elsewhere},
		{"unreachable", Config{KeyID: key, Region: motoRegion, Endpoint: deadEndpoint(t)}, keyenv.ErrKMSUnreachable, "network error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.Endpoint == "" {
				c.Endpoint = m.URL
			}
			b, err := Open(ctx, c, fastKMS...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			start := time.Now()
			_, err = b.Seal(ctx, "key-dictionary", []byte("dict"))
			backendtest.WantErr(t, err, tt.want)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("%q does not say %q", err, tt.says)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}

	// The key in its own region works.
	there := openMoto(t, m, Config{KeyID: elsewhere, Region: "eu-central-1"})
	backendtest.MustUnseal(t, there, "key-dictionary", backendtest.MustSeal(t, there, "key-dictionary", []byte("eu")), []byte("eu"))

	// Another key: refused by the blob's record, before moto is asked...
	wrong := openMoto(t, m, Config{KeyID: other, Region: motoRegion})
	_, err := wrong.Unseal(ctx, "key-dictionary", blob)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
	// ...while moto, asked, says access denied (which is what it is told
	// apart from: a caller without permission).
	src, err := newKMSKey(ctx, Config{KeyID: other, Region: motoRegion, Endpoint: m.URL}, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := keyenv.ParseSealedBlob(blob)
	_, err = src.UnsealingKey(ctx, "key-dictionary", sb.KeyRef)
	backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
}

// moto accepts DisableKey but goes on serving the key (moto 5); should a
// later moto refuse it, the refusal must be keyenv.ErrKMSKeyDisabled.
// The in-repo fake, which refuses, covers the class (TestFakeConformance).
func TestMotoDisabledKey(t *testing.T) {
	m := motoEnv(t)
	key := m.createKey(t, motoRegion)
	b := openMoto(t, m, Config{KeyID: key, Region: motoRegion})
	blob := backendtest.MustSeal(t, b, "key-dictionary", []byte("dict"))
	m.disableKey(t, motoRegion, key)
	_, sealErr := b.Seal(context.Background(), "key-dictionary", []byte("dict"))
	_, unsealErr := b.Unseal(context.Background(), "key-dictionary", blob)
	for _, err := range []error{sealErr, unsealErr} {
		switch {
		case err == nil:
			t.Log("this moto serves a disabled key")
		case !errors.Is(err, keyenv.ErrKMSKeyDisabled):
			t.Fatalf("a disabled key: %v, want ErrKMSKeyDisabled", err)
		}
	}
}

// The [aws] sub-table's access key is what signs the requests: static
// credentials win over the environment's, and without them the default
// chain (here the environment) is used. moto checks them against its IAM
// users.
func TestMotoCredentials(t *testing.T) {
	m := motoEnv(t)
	okID, okSecret := m.iamUser(t, "atrest", true)
	key := m.createKey(t, motoRegion)
	m.enableAuth(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name           string
		envID, envKey  string
		c              Config
		wantAccessDeny bool
	}{
		{"static credentials, environment unknown to moto", "AKIAUNKNOWN", "nothing", Config{AccessKey: okID, SecretAccessKey: okSecret}, false},
		{"static credentials wrong, environment right", okID, okSecret, Config{AccessKey: okID, SecretAccessKey: "wrong-secret"}, true},
		{"no static credentials: the environment", okID, okSecret, Config{}, false},
		{"no static credentials, environment unknown to moto", "AKIAUNKNOWN", "nothing", Config{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", tt.envID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", tt.envKey)
			c := tt.c
			c.KeyID, c.Region = key, motoRegion
			b := openMoto(t, m, c)
			blob, err := b.Seal(ctx, "key-dictionary", []byte("dict"))
			if tt.wantAccessDeny {
				backendtest.WantErr(t, err, keyenv.ErrKMSAccessDenied)
				if strings.Contains(err.Error(), okSecret) || strings.Contains(err.Error(), "wrong-secret") {
					t.Fatalf("a secret in %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			backendtest.MustUnseal(t, b, "key-dictionary", blob, []byte("dict"))
		})
	}
	// Open from a TOML file's sub-table.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
	cfg, err := keyenv.ParseConfig([]byte("[security.encryption]\ndata-encryption-method = \"aes128-ctr\"\n" +
		"[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"" + key + "\"\nregion = \"" + motoRegion + "\"\nendpoint = \"" + m.URL + "\"\n" +
		"[security.encryption.master-key.aws]\naccess-key = \"" + okID + "\"\nsecret-access-key = \"" + okSecret + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := keyenv.OpenMasterKeys(ctx, cfg, fastKMS...)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()
	backendtest.MustUnseal(t, mk.Current, "key-dictionary", backendtest.MustSeal(t, mk.Current, "key-dictionary", []byte("toml")), []byte("toml"))
}

// A key named by id, ARN or alias seals and unseals against moto, and its
// blobs record the key as configured with the region; a blob sealed
// through one name is another key's to a backend configured with another
// name (the record is the configuration's, precise but literal).
func TestMotoKeyNames(t *testing.T) {
	m := motoEnv(t)
	id := m.createKey(t, motoRegion)
	m.createAlias(t, motoRegion, "alias/atrest", id)
	names := []string{id, "arn:aws:kms:" + motoRegion + ":123456789012:key/" + id, "alias/atrest"}
	var backends []keyenv.Backend
	for _, name := range names {
		b := openMoto(t, m, Config{KeyID: name, Region: motoRegion})
		blob := backendtest.MustSeal(t, b, "key-dictionary", []byte("named"))
		backendtest.MustUnseal(t, b, "key-dictionary", blob, []byte("named"))
		sb, err := keyenv.ParseSealedBlob(blob)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(sb.KeyIdentity); got != name+" in "+motoRegion {
			t.Fatalf("%s: the blob records %q", name, got)
		}
		backends = append(backends, b)
	}
	blob := backendtest.MustSeal(t, backends[0], "key-dictionary", []byte("named"))
	_, err := backends[2].Unseal(context.Background(), "key-dictionary", blob)
	backendtest.WantErr(t, err, keyenv.ErrWrongMasterKey)
}
