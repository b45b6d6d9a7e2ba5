// Package azurekms is the Azure Key Vault and Managed HSM master-key
// backend of keyenv, in a package of its own so that only a program that
// imports it links the Azure SDK. Importing it registers the backend for
// master-key sections of type "kms" with vendor "azure", as TiKV
// configures them:
//
//	import _ "github.com/atrest/atrest/keyenv/azurekms"
//
//	[security.encryption.master-key]
//	type = "kms"
//	vendor = "azure"
//	key-id = "tikv-master"   # or "tikv-master/<version>"
//	[security.encryption.master-key.azure]
//	tenant-id = "..."
//	client-id = "..."
//	keyvault-url = "https://myvault.vault.azure.net/"
//	client-secret = "..."    # or client-certificate(-path), else DefaultAzureCredential
//
// Open opens a key directly. Errors wrap keyenv's sentinels:
// keyenv.ErrWrongMasterKey, keyenv.ErrKMSUnreachable,
// keyenv.ErrKMSKeyNotFound, keyenv.ErrKMSKeyDisabled,
// keyenv.ErrKMSAccessDenied, keyenv.ErrConfig.
package azurekms

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/atrest/atrest/keyenv"
)

func init() {
	keyenv.RegisterBackend(keyenv.KindKMS, "azure", openSection)
}

// sectionOptions, when set, adjust the Config of every key a
// configuration section opens. Only this package's tests set it, to point
// sections at a local fake.
var sectionOptions func(*Config)

// openSection opens the key a master-key section names.
func openSection(ctx context.Context, mk keyenv.MasterKeyConfig, opts ...keyenv.Option) (keyenv.Backend, error) {
	c := Config{KeyID: mk.KeyID, Azure: mk.Azure}
	if sectionOptions != nil {
		sectionOptions(&c)
	}
	return Open(ctx, c, opts...)
}

// Config names an Azure key, as the master-key section does.
type Config struct {
	// KeyID is the key's name, or name/version to pin a version (key-id).
	// Without a version, sealing uses the key's current version; a blob
	// records the version it was sealed under and unsealing uses that.
	KeyID string
	// Azure is the [master-key.azure] sub-table. The key is in the vault at
	// KeyVaultURL when it is set, else in the Managed HSM at HSMURL, else
	// in https://<HSMName>.managedhsm.azure.net. Credentials, first set
	// first: ClientCertificate (inline PEM, or base64 PKCS#12),
	// ClientCertificatePath (PEM or PKCS#12 file), each with the optional
	// ClientCertificatePassword; ClientSecret; else DefaultAzureCredential
	// (environment, workload identity, managed identity, Azure CLI).
	Azure keyenv.AzureSettings
	// ClientOptions are the SDK's options for the key client and the
	// credential: another cloud (Azure China, Government), a proxy, a test
	// server's transport. Retry is replaced by keyenv's options.
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips Entra ID instance discovery, for
	// authority hosts Microsoft's discovery does not know (Azure Stack, a
	// test server).
	DisableInstanceDiscovery bool
	// DisableChallengeResourceVerification lets the vault's authentication
	// challenge name a resource outside the vault's domain (a test server).
	DisableChallengeResourceVerification bool
}

// vaultURL is where the key lives.
func (c Config) vaultURL() (string, error) {
	raw, field := c.Azure.KeyVaultURL, "keyvault-url"
	switch {
	case raw != "":
	case c.Azure.HSMURL != "":
		raw, field = c.Azure.HSMURL, "hsm-url"
	case c.Azure.HSMName != "":
		if strings.ContainsAny(c.Azure.HSMName, "/:.?#@ ") {
			return "", fmt.Errorf("keyenv: %w: azure hsm-name %q is not a Managed HSM name", keyenv.ErrConfig, c.Azure.HSMName)
		}
		raw, field = "https://"+c.Azure.HSMName+".managedhsm.azure.net/", "hsm-name"
	default:
		return "", fmt.Errorf("keyenv: %w: an azure master key needs keyvault-url, hsm-name or hsm-url", keyenv.ErrConfig)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("keyenv: %w: azure %s is not a URL", keyenv.ErrConfig, field)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
		// Redacted: a URL with a password in it shows without.
		return "", fmt.Errorf("keyenv: %w: azure %s %q is not an https URL with a host and no user or query", keyenv.ErrConfig, field, u.Redacted())
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// Open returns the backend for an Azure Key Vault or Managed HSM key. Each
// blob is sealed under a fresh 256-bit data key from crypto/rand, wrapped
// by the key with WrapKey: RSA-OAEP-256 for RSA keys (Key Vault, RSA-HSM),
// A256KW for symmetric keys (Managed HSM oct-HSM). Each seal reads the key
// with GetKey first, for its type and to refuse a disabled key, so the
// identity needs the get, wrapKey and unwrapKey permissions (the Key Vault
// Crypto User role). The blob keeps the wrapped
// key and the key version that wrapped it; unsealing asks UnwrapKey of
// that version. Calls time out and are retried a bounded number of times
// on 408, 429, 5xx and network errors (keyenv.WithKMSTimeouts,
// keyenv.WithKMSAttempts, keyenv.WithKMSMaxBackoff).
//
// Open reads the certificate but does not call Azure: a vault that cannot
// be reached shows at the first Seal or Unseal, as an error wrapping
// keyenv.ErrKMSUnreachable.
func Open(ctx context.Context, c Config, opts ...keyenv.Option) (keyenv.Backend, error) {
	name, version, ok := strings.Cut(c.KeyID, "/")
	if c.KeyID == "" || strings.ContainsAny(c.KeyID, "?#:") || (ok && (version == "" || strings.Contains(version, "/"))) {
		return nil, fmt.Errorf("keyenv: %w: azure key-id %q is not a key name or name/version", keyenv.ErrConfig, c.KeyID)
	}
	vault, err := c.vaultURL()
	if err != nil {
		return nil, err
	}
	o := keyenv.ApplyOptions(opts...)
	c.ClientOptions.Retry = retryOptions(o)
	cred, err := newCredential(c)
	if err != nil {
		return nil, err
	}
	client, err := azkeys.NewClient(vault, cred, &azkeys.ClientOptions{
		ClientOptions:                        c.ClientOptions,
		DisableChallengeResourceVerification: c.DisableChallengeResourceVerification,
	})
	if err != nil {
		return nil, fmt.Errorf("keyenv: %w: azure key vault %s: %w", keyenv.ErrConfig, vault, err)
	}
	return keyenv.NewEnvelope(&azureKey{vault: vault, name: name, version: version, client: client, opts: o}), nil
}

// azureKey is the keyenv.KeySource of an Azure key: each seal gets a
// fresh data key, which the blob keeps wrapped by the key.
type azureKey struct {
	vault, name, version string
	client               *azkeys.Client
	opts                 keyenv.Settings
}

func (k *azureKey) Kind() keyenv.Kind { return keyenv.KindKMS }

// ID is the vault URL and the key name (and pinned version): it names the
// key precisely and is no secret.
func (k *azureKey) ID() string {
	s := "azure-kms:" + k.vault + "/keys/" + k.name
	if k.version != "" {
		s += "/" + k.version
	}
	return s
}

// KeyIdentity is what a blob records of the key: the vault and the key's
// name, without a version, since the key reference keeps the version
// that wrapped the data key and unwrapping uses it.
func (k *azureKey) KeyIdentity([]byte) []byte { return []byte(k.vault + "/keys/" + k.name) }

// HoldsKey reports whether a blob's recorded identity names this key,
// whichever version of it key-id names.
func (k *azureKey) HoldsKey(identity []byte) bool { return string(identity) == k.vault+"/keys/"+k.name }

func (k *azureKey) Close() error { return nil }

// A key reference is refTag, the length of the key identifier that
// wrapped the data key (uint16 big endian), that identifier
// (https://vault/keys/name/version), one byte naming the algorithm, then
// the wrapped data key. The tag lets a reference from another vendor's KMS
// (the same keyenv kind) be told apart without a call.
const refTag = "azk1"

var algCodes = map[azkeys.EncryptionAlgorithm]byte{azkeys.EncryptionAlgorithmRSAOAEP256: 1, azkeys.EncryptionAlgorithmA256KW: 2}

// algorithm reads the key (GetKey) and returns the wrapping algorithm for
// its type. A disabled key is refused here: Key Vault would still wrap
// under a disabled RSA key (a public-key operation), and the blob could
// not be opened until the key is enabled again.
func (k *azureKey) algorithm(ctx context.Context) (azkeys.EncryptionAlgorithm, error) {
	resp, err := k.client.GetKey(ctx, k.name, k.version, nil)
	if err != nil {
		return "", k.classify("GetKey", err)
	}
	if a := resp.Attributes; a != nil && a.Enabled != nil && !*a.Enabled {
		return "", fmt.Errorf("keyenv: %s: %w: the key is disabled (a blob sealed under it could not be opened)", k.ID(), keyenv.ErrKMSKeyDisabled)
	}
	var kty azkeys.KeyType
	if resp.Key != nil && resp.Key.Kty != nil {
		kty = *resp.Key.Kty
	}
	switch kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		return azkeys.EncryptionAlgorithmRSAOAEP256, nil
	case azkeys.KeyTypeOct, azkeys.KeyTypeOctHSM:
		return azkeys.EncryptionAlgorithmA256KW, nil
	}
	return "", fmt.Errorf("keyenv: %s: %w: a key of type %q cannot wrap keys (want RSA, RSA-HSM or oct-HSM)", k.ID(), keyenv.ErrConfig, kty)
}

func (k *azureKey) SealingKey(ctx context.Context, label string) (*keyenv.Secret, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	alg, err := k.algorithm(ctx)
	if err != nil {
		return nil, nil, err
	}
	key, err := keyenv.RandomSecret(keyenv.SealingKeyBytes)
	if err != nil {
		return nil, nil, err
	}
	resp, err := k.client.WrapKey(ctx, k.name, k.version, azkeys.KeyOperationParameters{Algorithm: &alg, Value: key.Bytes()}, nil)
	if err != nil {
		key.Release()
		return nil, nil, k.classify("WrapKey", err)
	}
	if resp.KID == nil || len(resp.Result) == 0 || len(*resp.KID) > 1<<12 {
		key.Release()
		return nil, nil, fmt.Errorf("keyenv: %s: WrapKey answered without a key identifier or a wrapped key", k.ID())
	}
	kid := string(*resp.KID)
	ref := make([]byte, 0, len(refTag)+2+len(kid)+1+len(resp.Result))
	ref = append(ref, refTag...)
	ref = binary.BigEndian.AppendUint16(ref, uint16(len(kid)))
	ref = append(ref, kid...)
	ref = append(ref, algCodes[alg])
	ref = append(ref, resp.Result...)
	return key, ref, nil
}

func (k *azureKey) UnsealingKey(ctx context.Context, label string, ref []byte) (*keyenv.Secret, error) {
	if !strings.HasPrefix(string(ref), refTag) {
		return nil, fmt.Errorf("keyenv: %s: %w: the blob's data key was not wrapped by Azure Key Vault", k.ID(), keyenv.ErrWrongMasterKey)
	}
	kid, alg, wrapped, ok := parseRef(ref)
	if !ok {
		return nil, fmt.Errorf("keyenv: %s: %w: malformed Azure key reference", k.ID(), keyenv.ErrCorruptBlob)
	}
	host, name, version, ok := parseKID(kid)
	if !ok {
		return nil, fmt.Errorf("keyenv: %s: %w: malformed key identifier in the Azure key reference", k.ID(), keyenv.ErrCorruptBlob)
	}
	if !strings.EqualFold(name, k.name) || !sameHost(host, k.vault) {
		return nil, fmt.Errorf("keyenv: %s: %w: the blob's data key was wrapped by %s", k.ID(), keyenv.ErrWrongMasterKey, kid)
	}
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	resp, err := k.client.UnwrapKey(ctx, k.name, version, azkeys.KeyOperationParameters{Algorithm: &alg, Value: wrapped}, nil)
	if err != nil {
		return nil, k.classify("UnwrapKey", err)
	}
	if len(resp.Result) != keyenv.SealingKeyBytes {
		clear(resp.Result)
		return nil, fmt.Errorf("keyenv: %s: %w: UnwrapKey returned a %d-byte key", k.ID(), keyenv.ErrCorruptBlob, len(resp.Result))
	}
	return keyenv.SecretFrom(resp.Result)
}

// parseRef splits a reference made by SealingKey.
func parseRef(ref []byte) (kid string, alg azkeys.EncryptionAlgorithm, wrapped []byte, ok bool) {
	rest := ref[len(refTag):]
	if len(rest) < 2 {
		return "", "", nil, false
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < n+2 {
		return "", "", nil, false
	}
	kid, code, wrapped := string(rest[:n]), rest[n], rest[n+1:]
	for a, c := range algCodes {
		if c == code {
			return kid, a, wrapped, true
		}
	}
	return "", "", nil, false
}

// parseKID splits https://host/keys/name/version.
func parseKID(kid string) (host, name, version string, ok bool) {
	u, err := url.Parse(kid)
	if err != nil || u.Host == "" {
		return "", "", "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "keys" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return u.Host, parts[1], parts[2], true
}

// sameHost reports whether host is the vault's host, ignoring case and a
// default port.
func sameHost(host, vault string) bool {
	u, err := url.Parse(vault)
	if err != nil {
		return false
	}
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ":443") }
	return norm(host) == norm(u.Host)
}
