package vaulttransit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atrest/atrest/internal/vaulttest"
	"github.com/atrest/atrest/keyenv"
	_ "github.com/atrest/atrest/keyenv/vaulttransit"
)

// A master key in Vault's Transit engine, from the configuration: the
// key dictionary is sealed under a data key Transit generates, and the
// blob keeps Vault's ciphertext of it. (The example runs against
// vaulttest's fake Vault; the key is made with derived=true, as
// docs/master-keys-onprem.md shows for a real one.)
func Example() {
	vault := vaulttest.New(vaulttest.Options{})
	defer vault.Close()
	vault.CreateKey("atrest", true)
	dir, _ := os.MkdirTemp("", "atrest-example")
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "vault-token")
	os.WriteFile(tokenFile, []byte(vault.NewToken("atrest")), 0o600)

	c, err := keyenv.ParseConfig([]byte(fmt.Sprintf(`
[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "vault"
address = %q
key-name = "atrest"
token-file = %q
`, vault.URL, tokenFile)))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	blob, err := m.Current.Seal(context.Background(), "key-dictionary", []byte("the key dictionary"))
	if err != nil {
		fmt.Println(err)
		return
	}
	sb, _ := keyenv.ParseSealedBlob(blob)
	s, _, err := m.Unseal(context.Background(), "key-dictionary", blob)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Release()
	fmt.Printf("%s\nkey reference: %.9s…\n", s.Bytes(), sb.KeyRef)
	// Output:
	// the key dictionary
	// key reference: vault:v1:…
}
