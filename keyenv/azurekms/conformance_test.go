package azurekms

import (
	"context"
	"testing"

	"github.com/atrest/atrest/internal/azurekvtest"
	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

// The Azure backend passes the conformance suite against the fake Key
// Vault and Entra ID (internal/azurekvtest: neither is reachable here and
// Microsoft ships no emulator), through the real SDK over HTTPS with the
// client-secret credential. A wrong client secret on the working key is
// the denied key (Entra ID refuses the token); a disabled key the disabled
// one; a vault URL at a closed port the unreachable service. The client
// secret is the secret no message may show.
func TestConformance(t *testing.T) {
	srv := newServer(t)
	k1, k2, off := srv.CreateKey("conform-1", azurekvtest.RSA), srv.CreateKey("conform-2", azurekvtest.OctHSM), srv.CreateKey("conform-off", azurekvtest.RSA)
	srv.SetEnabled(off, false)

	dead := "https://" + backendtest.ClosedAddr(t)

	open := func(keyID string, mod func(*keyenv.AzureSettings)) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			c := Config{KeyID: keyID, Azure: secretSettings(srv)}
			if mod != nil {
				mod(&c.Azure)
			}
			pointAt(srv, &c)
			return Open(context.Background(), c, fast...)
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:  open(k1, nil),
		Second:   open(k2, nil),
		Missing:  open("conform-missing", nil),
		Disabled: open(off, nil),
		Denied: open(k1, func(a *keyenv.AzureSettings) {
			a.ClientSecret = "a-client-secret-Entra-ID-does-not-know"
		}),
		Unreachable:       open(k1, func(a *keyenv.AzureSettings) { a.KeyVaultURL = dead }),
		UnreachableWithin: callTimeout + slack,
		Secret:            testSecret,
	})
}
