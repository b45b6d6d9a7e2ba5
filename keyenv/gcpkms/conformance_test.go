package gcpkms

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/option"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/gcpkmstest"
	"github.com/atrest/atrest/keyenv"
)

// The Cloud KMS backend passes the conformance suite against the fake
// (internal/gcpkmstest: no Cloud KMS is reachable here and Google ships
// no emulator), in its mode that serves TLS and requires the service
// account's signed JWT, so the keys are used as in production: through a
// credentials file. Another service account's file on the working key is
// the denied key; a disabled primary version the disabled one; a closed
// port the unreachable service. A line of the service account's private
// key is the secret no message may show.
func TestConformance(t *testing.T) {
	key, der := serviceAccountKey(t)
	_, otherDER := serviceAccountKey(t)
	srv := gcpkmstest.NewWithOptions(gcpkmstest.Options{ServiceAccountKey: &key.PublicKey})
	t.Cleanup(srv.Close)
	k1, k2, off := srv.CreateKey("conform-1"), srv.CreateKey("conform-2"), srv.CreateKey("conform-off")
	srv.SetState(off, gcpkmstest.Disabled)

	dir := t.TempDir()
	credentials := func(name string, der []byte) (path, keyLine string) {
		keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		path = filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(serviceAccount(t, keyPEM)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, strings.Split(keyPEM, "\n")[1]
	}
	good, secret := credentials("sa", der)
	other, _ := credentials("other-sa", otherDER)

	dead := backendtest.ClosedAddr(t)

	open := func(name, creds, endpoint string) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			opts := srv.ClientOptions()
			if endpoint != "" {
				opts = append(opts, option.WithEndpoint(endpoint)) // the later endpoint wins
			}
			return Open(context.Background(), Config{KeyName: name, CredentialFilePath: creds, ClientOptions: opts}, fast...)
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:           open(k1, good, ""),
		Second:            open(k2, good, ""),
		Missing:           open(gcpkmstest.KeyName("conform-missing"), good, ""),
		Disabled:          open(off, good, ""),
		Denied:            open(k1, other, ""),
		Unreachable:       open(k1, good, dead),
		UnreachableWithin: callTimeout + slack,
		Secret:            secret,
	})
}
