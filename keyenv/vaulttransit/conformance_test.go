package vaulttransit

import (
	"context"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/internal/vaulttest"
	"github.com/atrest/atrest/keyenv"
)

// The Vault Transit backend passes the conformance suite against the fake
// Vault (internal/vaulttest: neither Vault nor OpenBao can be installed
// here), over HTTPS with ca-file, through the Vault API client. A token
// allowed only another key is the denied key (Vault answers 403
// "permission denied"); an address at a closed port the unreachable
// service. Transit has no disabled state a seal could meet (a key version
// below min_decryption_version refuses only to decrypt, which
// TestVaultErrorMatrix checks as keyenv.ErrKMSKeyDisabled), so the Env
// gives no disabled key. The working token is the secret no message may
// show.
func TestConformance(t *testing.T) {
	srv := vaulttest.New(vaulttest.Options{TLS: true})
	t.Cleanup(srv.Close)
	srv.CreateKey("conform-1", true)
	srv.CreateKey("conform-2", true)
	token := srv.NewToken()
	tokenFile := writeFile(t, "token", token)
	limitedFile := writeFile(t, "limited", srv.NewToken("conform-2"))
	ca := writeFile(t, "ca.pem", string(srv.CertificatePEM()))

	dead := "https://" + backendtest.ClosedAddr(t)

	open := func(key string, mod func(*keyenv.VaultSettings)) backendtest.Opener {
		return func(*testing.T) (keyenv.Backend, error) {
			s := keyenv.VaultSettings{Address: srv.URL, KeyName: key, TokenFile: tokenFile, CAFile: ca}
			if mod != nil {
				mod(&s)
			}
			return Open(context.Background(), s, fastVault...)
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:           open("conform-1", nil),
		Second:            open("conform-2", nil),
		Missing:           open("conform-missing", nil),
		Denied:            open("conform-1", func(s *keyenv.VaultSettings) { s.TokenFile = limitedFile }),
		Unreachable:       open("conform-1", func(s *keyenv.VaultSettings) { s.Address = dead }),
		UnreachableWithin: 5 * time.Second,
		Secret:            token,
	})
}
