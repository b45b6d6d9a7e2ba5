package keyenv

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// AWSSettings is the [master-key.aws] sub-table of a kms master key
// (TiKV's SubConfigAws). Both empty means the SDK's default credential
// chain.
type AWSSettings struct {
	AccessKey       string // access-key
	SecretAccessKey string // secret-access-key
}

// AzureSettings is the [master-key.azure] sub-table of a kms master key
// with vendor "azure" (TiKV's SubConfigAzure). The key is key-id in the
// vault at KeyVaultURL, or in the Managed HSM HSMName or HSMURL.
type AzureSettings struct {
	TenantID                  string // tenant-id
	ClientID                  string // client-id
	KeyVaultURL               string // keyvault-url
	HSMName                   string // hsm-name
	HSMURL                    string // hsm-url
	ClientCertificate         string // client-certificate: PEM or base64 PKCS#12, inline
	ClientCertificatePath     string // client-certificate-path
	ClientCertificatePassword string // client-certificate-password
	ClientSecret              string // client-secret
}

// GCPSettings is the [master-key.gcp] sub-table of a kms master key with
// vendor "gcp" (TiKV's SubConfigGcp). An empty CredentialFilePath means
// Application Default Credentials.
type GCPSettings struct {
	CredentialFilePath string // credential-file-path
}

// VaultSettings are the keys of a master key of type "vault": a
// HashiCorp Vault or OpenBao Transit key (atrest's own type).
type VaultSettings struct {
	Address       string // address: https://vault.example:8200
	Mount         string // mount: the Transit engine's mount path (default "transit")
	KeyName       string // key-name: the Transit key
	TokenFile     string // token-file: a file holding the token
	TokenEnv      string // token-env: a variable holding the token
	RoleID        string // role-id: AppRole login (with secret-id-file)
	SecretIDFile  string // secret-id-file: the AppRole secret id
	AppRoleMount  string // approle-mount: the AppRole auth mount (default "approle")
	Namespace     string // namespace (Vault Enterprise, OpenBao)
	CAFile        string // ca-file: PEM CA bundle for the server's certificate
	TLSServerName string // tls-server-name (optional)
}

// KMIPSettings are the keys of a master key of type "kmip": a symmetric
// key in a KMIP key manager (atrest's own type).
type KMIPSettings struct {
	Endpoints  []string // endpoints: host:port, tried in order
	KeyID      string   // key-id: the key's unique identifier
	ClientCert string   // client-certificate: PEM file
	ClientKey  string   // client-key: PEM file
	CAFile     string   // ca-file: PEM CA bundle for the server's certificate
	ServerName string   // server-name (optional): the name the certificate must carry
}

// kmsVendors are the vendors of kms master keys; "" means aws, as in TiKV.
var kmsVendors = []string{"", "aws", "azure", "gcp"}

// The vendors' sub-tables as written.
type (
	awsTOML struct {
		AccessKey       stringValue `toml:"access-key"`
		SecretAccessKey stringValue `toml:"secret-access-key"`
	}
	azureTOML struct {
		TenantID                  stringValue `toml:"tenant-id"`
		ClientID                  stringValue `toml:"client-id"`
		KeyVaultURL               stringValue `toml:"keyvault-url"`
		HSMName                   stringValue `toml:"hsm-name"`
		HSMURL                    stringValue `toml:"hsm-url"`
		ClientCertificate         stringValue `toml:"client-certificate"`
		ClientCertificatePath     stringValue `toml:"client-certificate-path"`
		ClientCertificatePassword stringValue `toml:"client-certificate-password"`
		ClientSecret              stringValue `toml:"client-secret"`
	}
	gcpTOML struct {
		CredentialFilePath stringValue `toml:"credential-file-path"`
	}
)

// decodeVendorSettings decodes the sub-tables of a kms section at key into
// mk. A sub-table may only be the section's own vendor's (aws for an empty
// vendor), and holds only that vendor's keys.
func decodeVendorSettings(md *toml.MetaData, t *masterKeyTOML, key toml.Key, mk *MasterKeyConfig) error {
	vendor := mk.Vendor
	if vendor == "" {
		vendor = "aws"
	}
	var aws awsTOML
	var azure azureTOML
	var gcp gcpTOML
	for _, sub := range []struct {
		name string
		p    toml.Primitive
		v    any
	}{{"aws", t.AWS, &aws}, {"azure", t.Azure, &azure}, {"gcp", t.GCP, &gcp}} {
		k := subKey(key, sub.name)
		if !md.IsDefined(k...) {
			continue
		}
		if sub.name != vendor {
			return fmt.Errorf("keyenv: %w: %s: a sub-table of vendor %s in a master key of vendor %s", ErrConfig, k, sub.name, vendor)
		}
		names := tomlNames(reflect.ValueOf(sub.v).Elem().Interface())
		for _, n := range keysIn(md, k) {
			if !slices.Contains(names, n) {
				return fmt.Errorf("keyenv: %w: %s.%s: unknown key (valid: %s)", ErrConfig, k, n, strings.Join(names, ", "))
			}
		}
		if err := decodeTable(md, sub.p, k, sub.v); err != nil {
			return err
		}
	}
	mk.AWS = AWSSettings{AccessKey: string(aws.AccessKey), SecretAccessKey: string(aws.SecretAccessKey)}
	if (mk.AWS.AccessKey == "") != (mk.AWS.SecretAccessKey == "") {
		return fmt.Errorf("keyenv: %w: %s: access-key and secret-access-key go together", ErrConfig, subKey(key, "aws"))
	}
	mk.Azure = AzureSettings{TenantID: string(azure.TenantID), ClientID: string(azure.ClientID), KeyVaultURL: string(azure.KeyVaultURL),
		HSMName: string(azure.HSMName), HSMURL: string(azure.HSMURL), ClientCertificate: string(azure.ClientCertificate),
		ClientCertificatePath: string(azure.ClientCertificatePath), ClientCertificatePassword: string(azure.ClientCertificatePassword),
		ClientSecret: string(azure.ClientSecret)}
	if vendor == "azure" && mk.Azure.KeyVaultURL == "" && mk.Azure.HSMName == "" && mk.Azure.HSMURL == "" {
		return fmt.Errorf("keyenv: %w: %s: an azure master key needs keyvault-url, hsm-name or hsm-url", ErrConfig, subKey(key, "azure"))
	}
	mk.GCP = GCPSettings{CredentialFilePath: string(gcp.CredentialFilePath)}
	return nil
}

// vaultSettings takes a vault section's keys from t.
func vaultSettings(t *masterKeyTOML) VaultSettings {
	v := VaultSettings{Address: string(t.Address), Mount: string(t.Mount), KeyName: string(t.KeyName),
		TokenFile: string(t.TokenFile), TokenEnv: string(t.TokenEnv), RoleID: string(t.RoleID),
		SecretIDFile: string(t.SecretIDFile), AppRoleMount: string(t.AppRoleMount), Namespace: string(t.Namespace),
		CAFile: string(t.CAFile), TLSServerName: string(t.TLSServerName)}
	if v.Mount == "" {
		v.Mount = "transit"
	}
	if v.AppRoleMount == "" {
		v.AppRoleMount = "approle"
	}
	return v
}

// checkVaultAuth requires exactly one way to log in: token-file,
// token-env, or AppRole (role-id with secret-id-file).
func checkVaultAuth(v VaultSettings) error {
	ways := 0
	for _, set := range []bool{v.TokenFile != "", v.TokenEnv != "", v.RoleID != "" || v.SecretIDFile != ""} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("a vault master key needs exactly one of token-file, token-env and role-id with secret-id-file")
	}
	if (v.RoleID == "") != (v.SecretIDFile == "") {
		return errors.New("role-id and secret-id-file go together")
	}
	return nil
}
