package kmip

import (
	"context"
	"testing"
	"time"

	"github.com/atrest/atrest/internal/backendtest"
	"github.com/atrest/atrest/keyenv"
)

// The KMIP backend passes the conformance suite against a real KMIP
// server, PyKMIP's (started once for the package by TestMain), over
// mutual TLS. Another client identity ("bob") on the working key is the
// denied key (PyKMIP lets only a key's owner use it); a key left
// Pre-Active the disabled one; an endpoint at a closed port the
// unreachable service. A line of the client's private key is the secret
// no message may show.
func TestConformance(t *testing.T) {
	needServer(t)
	k1, k2 := createKey(t, "atrest", true), createKey(t, "atrest", true)
	preActive := createKey(t, "atrest", false)
	_, clientKey := clientCert(t, "atrest")
	secret := pemBody(t, clientKey)[1]

	dead := backendtest.ClosedAddr(t)

	open := func(owner, id string, mod func(*keyenv.KMIPSettings)) backendtest.Opener {
		s := settings(t, owner, id)
		if mod != nil {
			mod(&s)
		}
		return func(*testing.T) (keyenv.Backend, error) {
			return Open(context.Background(), s, fastKMIP...)
		}
	}
	backendtest.Run(t, backendtest.Env{
		Working:           open("atrest", k1, nil),
		Second:            open("atrest", k2, nil),
		Missing:           open("atrest", "424242", nil),
		Disabled:          open("atrest", preActive, nil),
		Denied:            open("bob", k1, nil),
		Unreachable:       open("atrest", k1, func(s *keyenv.KMIPSettings) { s.Endpoints = []string{dead} }),
		UnreachableWithin: 10 * time.Second,
		Secret:            secret,
	})
}
