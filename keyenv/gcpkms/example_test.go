package gcpkms_test

import (
	"context"
	"fmt"

	"github.com/atrest/atrest/internal/gcpkmstest"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/keyenv/gcpkms"
)

// Seal a secret under a Cloud KMS key and open it again. The example runs
// against the in-repo fake; against Cloud KMS, leave ClientOptions out
// (Application Default Credentials) or set CredentialFilePath.
func ExampleOpen() {
	srv := gcpkmstest.New()
	defer srv.Close()
	name := srv.CreateKey("tikv-master")

	b, err := gcpkms.Open(context.Background(), gcpkms.Config{KeyName: name, ClientOptions: srv.ClientOptions()})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	blob, err := b.Seal(context.Background(), "key-dictionary", []byte("data keys"))
	if err != nil {
		panic(err)
	}
	s, err := b.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil {
		panic(err)
	}
	defer s.Release()
	fmt.Println(b.ID())
	fmt.Printf("%s\n", s.Bytes())
	fmt.Println(b.Kind() == keyenv.KindKMS)
	// Output:
	// gcp-kms:projects/atrest-test/locations/global/keyRings/atrest/cryptoKeys/tikv-master
	// data keys
	// true
}
