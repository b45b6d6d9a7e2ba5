package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/internal/dicttest"
	"github.com/atrest/atrest/internal/kmstest"
	"github.com/atrest/atrest/internal/testenv"
	"github.com/atrest/atrest/keyenv"
	_ "github.com/atrest/atrest/keyenv/awskms" // the rotation goes through KMS
)

// rotationEnv makes a KMS stand-in and a keyring, with the environment
// the SDK and the keyring's password need, and returns their master-key
// configurations.
func rotationEnv(t *testing.T, dir string) (kms, keyring keyenv.MasterKeyConfig) {
	t.Helper()
	const region, akid, secret = "eu-west-1", "AKIATESTROTATION", "rotation-secret"
	srv := kmstest.New(kmstest.Options{Region: region, AccessKeyID: akid, SecretAccessKey: secret})
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": "/nonexistent/atrest-test", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/atrest-test",
		"AWS_EC2_METADATA_DISABLED": "true", "ATREST_TEST_KEYRING_PW": "rotation password",
	} {
		t.Setenv(k, v)
	}
	kms = keyenv.MasterKeyConfig{Type: keyenv.KindKMS, KeyID: srv.CreateKey(), Region: region, Endpoint: srv.URL}

	path := filepath.Join(dir, "keyring")
	kr, err := keyenv.CreateKeyring(path, []byte("rotation password"), keyenv.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AddKey("tikv"); err != nil {
		t.Fatal(err)
	}
	kr.Close()
	keyring = keyenv.MasterKeyConfig{Type: keyenv.KindKeyring, Path: path, KeyID: "tikv", PasswordEnv: "ATREST_TEST_KEYRING_PW"}
	return kms, keyring
}

// fastKMS keeps the SDK's retries short against the local stand-in.
var fastKMS = []keyenv.Option{keyenv.WithKMSAttempts(2), keyenv.WithKMSTimeouts(5*time.Second, time.Second), keyenv.WithKMSMaxBackoff(5 * time.Millisecond)}

func rotationConfig(mk keyenv.MasterKeyConfig, prev *keyenv.MasterKeyConfig) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = ctr.AES256CTR
	c.MasterKey, c.PreviousMasterKey = mk, prev
	return c
}

// TestRotateMasterKeyUnderLoad rotates the master key through every backend
// type while writers create files and readers check them; every file
// reads back, and only the last master key opens the directory afterwards.
func TestRotateMasterKeyUnderLoad(t *testing.T) {
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	first := testenv.FileMasterKey(t, root, "first.key", 0x11)
	last := testenv.FileMasterKey(t, root, "last.key", 0x22)
	kms, keyring := rotationEnv(t, root)
	ctx := context.Background()
	m, err := dict.Open(ctx, dir, rotationConfig(first, nil), dict.WithKeyenvOptions(fastKMS...))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { m.Close() }()

	// Writers create files; readers reread the ones written so far.
	var (
		mu      sync.Mutex
		written = map[string][]byte{}
		stop    atomic.Bool
		wg      sync.WaitGroup
		errs    = make(chan error, 16)
	)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				name := fmt.Sprintf("w%d-%04d", w, i)
				content := bytes.Repeat([]byte(name), 100+i%50)
				f, err := m.Create(name)
				if err == nil {
					_, err = f.Write(content)
					if err == nil {
						err = f.Close()
					}
				}
				if err != nil {
					errs <- fmt.Errorf("create %s: %w", name, err)
					return
				}
				mu.Lock()
				written[name] = content
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			mu.Lock()
			var name string
			var want []byte
			for name, want = range written {
				break
			}
			mu.Unlock()
			if name == "" {
				continue
			}
			if got, err := dicttest.ReadFile(m, name); err != nil || !bytes.Equal(got, want) {
				errs <- fmt.Errorf("read %s during rotation: %v (content equal: %v)", name, err, bytes.Equal(got, want))
				return
			}
		}
	}()

	for _, to := range []keyenv.MasterKeyConfig{keyring, kms, first, kms, last} {
		time.Sleep(20 * time.Millisecond)
		if err := RotateMasterKey(ctx, m, to, fastKMS...); err != nil {
			t.Fatalf("rotate to %v: %v", to.Type, err)
		}
		if st, err := m.Stats(); err != nil || st.MasterKey.Kind != to.Type {
			t.Errorf("after rotating to %v the stats name %v (%v)", to.Type, st.MasterKey.Kind, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st, err := m.Stats(); err != nil || st.Rotation.MasterKeyRotations != 5 || st.Rotation.LastMasterKeyRotation.IsZero() {
		t.Errorf("rotations counted: %+v (%v), want 5 master-key rotations", st.Rotation, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if len(written) < 10 {
		t.Fatalf("only %d files written during the rotations", len(written))
	}

	// Only the last master key opens the directory now.
	if _, err := dict.Open(ctx, dir, rotationConfig(first, nil)); !errors.Is(err, keyenv.ErrWrongMasterKey) {
		t.Errorf("open with the first master key: %v, want ErrWrongMasterKey", err)
	}
	m, err = dict.Open(ctx, dir, rotationConfig(last, nil))
	if err != nil {
		t.Fatalf("open with the last master key: %v", err)
	}
	for name, want := range written {
		if got, err := dicttest.ReadFile(m, name); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after reopening: %v", name, err)
		}
	}
}

// TestRotateMasterKeyRefused checks a rotation that cannot happen changes
// nothing: the key dictionary's bytes stay, and the old key still opens it.
func TestRotateMasterKeyRefused(t *testing.T) {
	root := t.TempDir()
	dir := testenv.DataDir(t, root)
	key := testenv.FileMasterKey(t, root, "master.key", 0x33)
	ctx := context.Background()
	m, err := dict.Open(ctx, dir, rotationConfig(key, nil))
	if err != nil {
		t.Fatal(err)
	}
	dicttest.WriteFile(t, m, "f", []byte("content"))
	before, err := os.ReadFile(filepath.Join(dir, dict.KeyDictName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		to   keyenv.MasterKeyConfig
		want error
	}{
		{"plaintext while encrypting", keyenv.MasterKeyConfig{Type: keyenv.KindPlaintext}, keyenv.ErrInsecureMasterKey},
		{"missing key file", keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: filepath.Join(root, "missing.key")}, keyenv.ErrBadKeyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := RotateMasterKey(ctx, m, tc.to)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			after, _ := os.ReadFile(filepath.Join(dir, dict.KeyDictName))
			if !bytes.Equal(before, after) {
				t.Error("the key dictionary changed")
			}
			if st, _ := m.Stats(); st.MasterKey.Kind != keyenv.KindFile || !strings.HasSuffix(st.MasterKey.ID, key.Path) {
				t.Errorf("stats name %v %q as the master key, want the key file %q", st.MasterKey.Kind, st.MasterKey.ID, key.Path)
			}
		})
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := RotateMasterKey(ctx, m, key); !errors.Is(err, dict.ErrClosed) {
		t.Errorf("rotation after Close: %v, want ErrClosed", err)
	}
	if err := m.RotateDataKey(ctx); !errors.Is(err, dict.ErrClosed) {
		t.Errorf("data-key rotation after Close: %v, want ErrClosed", err)
	}
	m, err = dict.Open(ctx, dir, rotationConfig(key, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, err := dicttest.ReadFile(m, "f"); err != nil || string(got) != "content" {
		t.Errorf("read back %q, %v", got, err)
	}
}
