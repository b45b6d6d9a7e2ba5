package azurekms_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/atrest/atrest/internal/azurekvtest"
	"github.com/atrest/atrest/keyenv"
	"github.com/atrest/atrest/keyenv/azurekms"
)

// Seal a secret under an Azure Key Vault key with a client secret, and
// open it again. The example runs against the in-repo fake; against Azure,
// leave ClientOptions and the Disable fields out.
func ExampleOpen() {
	srv := azurekvtest.New(azurekvtest.Options{TenantID: "tenant", ClientID: "app", ClientSecret: "s3cret"})
	defer srv.Close()
	srv.CreateKey("tikv-master", azurekvtest.RSA)

	b, err := azurekms.Open(context.Background(), azurekms.Config{
		KeyID: "tikv-master",
		Azure: keyenv.AzureSettings{TenantID: "tenant", ClientID: "app", ClientSecret: "s3cret", KeyVaultURL: srv.URL},
		// Only for the fake:
		ClientOptions:                        srv.ClientOptions(),
		DisableInstanceDiscovery:             true,
		DisableChallengeResourceVerification: true,
	})
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
	fmt.Println(strings.Replace(b.ID(), srv.URL, "https://vault", 1))
	fmt.Printf("%s\n", s.Bytes())
	// Output:
	// azure-kms:https://vault/keys/tikv-master
	// data keys
}
