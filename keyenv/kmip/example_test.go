package kmip_test

import (
	"context"
	"fmt"

	"github.com/atrest/atrest/keyenv"
	_ "github.com/atrest/atrest/keyenv/kmip"
)

// A master key in a KMIP key manager, from the configuration: the key
// dictionary's data key is encrypted by the server under key 42 and never
// leaves it in the clear. (Not run: it needs a KMIP server; the package's
// tests run the same against pykmip-server.)
func Example() {
	c, err := keyenv.ParseConfig([]byte(`
[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "kmip"
endpoints = ["kmip-1.example.com:5696", "kmip-2.example.com:5696"]
key-id = "42"
client-certificate = "/etc/atrest/kmip-client.pem"
client-key = "/etc/atrest/kmip-client.key"
ca-file = "/etc/atrest/kmip-ca.pem"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := keyenv.OpenMasterKeys(context.Background(), c, keyenv.WithKMSAttempts(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	blob, err := m.Current.Seal(context.Background(), "key-dictionary", []byte("the key dictionary"))
	if err != nil {
		fmt.Println(err) // keyenv.ErrKMSUnreachable, ErrKMSKeyDisabled, ...
		return
	}
	fmt.Println(len(blob) > 0)
}
