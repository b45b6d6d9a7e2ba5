package keyenv

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/atrest/atrest/ctr"
)

// Config is the [security.encryption] section of a TiKV-style
// configuration file.
type Config struct {
	// DataEncryptionMethod encrypts new files (data-encryption-method;
	// default plaintext).
	DataEncryptionMethod ctr.Method
	// DataKeyRotationPeriod is how old the current data key may grow
	// before a new one is made (data-key-rotation-period; default 7 days).
	DataKeyRotationPeriod time.Duration
	// EnableFileDictionaryLog selects the file dictionary's log format;
	// false writes the older whole-file format (default true).
	EnableFileDictionaryLog bool
	// FileDictionaryRewriteThreshold is how many dead log records trigger
	// a compaction of the file dictionary (default 1000000).
	FileDictionaryRewriteThreshold int
	// MasterKey is the master key ([security.encryption.master-key];
	// default plaintext).
	MasterKey MasterKeyConfig
	// PreviousMasterKey is the master key being rotated away from
	// ([security.encryption.previous-master-key]), or nil.
	PreviousMasterKey *MasterKeyConfig
}

// MasterKeyConfig is one master-key section.
type MasterKeyConfig struct {
	Type         Kind   // type: "plaintext", "file", "kms" or "keyring"
	Path         string // path: the key file (file) or keyring file (keyring)
	KeyID        string // key-id: the KMS key (kms) or the key's name (keyring)
	Region       string // region (kms)
	Endpoint     string // endpoint (kms, optional)
	Vendor       string // vendor (kms, optional): "" or "aws"
	PasswordEnv  string // password-env: variable holding the keyring password
	PasswordFile string // password-file: file holding the keyring password

	// The settings of one backend, from the section's sub-table named
	// after it ([security.encryption.master-key.aws], say) or, for
	// atrest's own types vault and kmip, from the section itself.
	AWS   AWSSettings
	Azure AzureSettings
	GCP   GCPSettings
	Vault VaultSettings
	KMIP  KMIPSettings
}

// Defaults TiKV uses for the keys a configuration leaves out.
const (
	DefaultDataKeyRotationPeriod          = 7 * 24 * time.Hour
	DefaultFileDictionaryRewriteThreshold = 1000000
)

// DefaultConfig is the configuration of an empty section: no encryption.
func DefaultConfig() Config {
	return Config{
		DataEncryptionMethod:           ctr.Plaintext,
		DataKeyRotationPeriod:          DefaultDataKeyRotationPeriod,
		EnableFileDictionaryLog:        true,
		FileDictionaryRewriteThreshold: DefaultFileDictionaryRewriteThreshold,
		MasterKey:                      MasterKeyConfig{Type: KindPlaintext},
	}
}

// LoadConfig reads the configuration file at path; see ParseConfig.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("keyenv: %w: %w", ErrConfig, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// ParseConfig reads the [security.encryption] section of a TOML document,
// with TiKV's key names:
//
//	[security.encryption]
//	data-encryption-method = "aes128-ctr"
//	data-key-rotation-period = "168h"   # or "7d"
//	enable-file-dictionary-log = true
//	file-dictionary-rewrite-threshold = 1000000
//	[security.encryption.master-key]
//	type = "kms"                        # or "file", "keyring", "plaintext"
//	key-id = "..."
//	region = "us-west-2"
//	endpoint = "https://..."
//	[security.encryption.previous-master-key]
//	...
//
// Other sections (the rest of a TiKV configuration) are ignored. Inside the
// section, an unknown key, a value of the wrong type, a bad duration or an
// unknown method is an error wrapping ErrConfig that names the key and the
// value.
func ParseConfig(data []byte) (Config, error) {
	var doc map[string]toml.Primitive
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return Config{}, fmt.Errorf("keyenv: %w: %w", ErrConfig, err)
	}
	c := DefaultConfig()
	p, ok := doc["security"]
	if !ok {
		return c, nil
	}
	var security map[string]toml.Primitive
	if err := decodeTable(&md, p, toml.Key{"security"}, &security); err != nil {
		return Config{}, err
	}
	if p, ok = security["encryption"]; !ok {
		return c, nil
	}
	key := toml.Key{"security", "encryption"}
	t := encryptionTOML{
		DataEncryptionMethod:           methodValue(c.DataEncryptionMethod),
		DataKeyRotationPeriod:          periodValue(c.DataKeyRotationPeriod),
		EnableFileDictionaryLog:        boolValue(c.EnableFileDictionaryLog),
		FileDictionaryRewriteThreshold: thresholdValue(c.FileDictionaryRewriteThreshold),
	}
	names := tomlNames(t)
	for _, k := range keysIn(&md, key) {
		if !slices.Contains(names, k) {
			return Config{}, fmt.Errorf("keyenv: %w: %s.%s: unknown key (valid: %s)", ErrConfig, key, k, strings.Join(names, ", "))
		}
	}
	if err := decodeTable(&md, p, key, &t); err != nil {
		return Config{}, err
	}
	c.DataEncryptionMethod = ctr.Method(t.DataEncryptionMethod)
	c.DataKeyRotationPeriod = time.Duration(t.DataKeyRotationPeriod)
	c.EnableFileDictionaryLog = bool(t.EnableFileDictionaryLog)
	c.FileDictionaryRewriteThreshold = int(t.FileDictionaryRewriteThreshold)
	if k := subKey(key, "master-key"); md.IsDefined(k...) {
		if c.MasterKey, err = decodeMasterKey(&md, t.MasterKey, k); err != nil {
			return Config{}, err
		}
	}
	if k := subKey(key, "previous-master-key"); md.IsDefined(k...) {
		mk, err := decodeMasterKey(&md, t.PreviousMasterKey, k)
		if err != nil {
			return Config{}, err
		}
		c.PreviousMasterKey = &mk
	}
	return c, nil
}

// encryptionTOML is the [security.encryption] section as written. The
// master keys are decoded apart, once their section is known to be a
// table.
type encryptionTOML struct {
	DataEncryptionMethod           methodValue    `toml:"data-encryption-method"`
	DataKeyRotationPeriod          periodValue    `toml:"data-key-rotation-period"`
	EnableFileDictionaryLog        boolValue      `toml:"enable-file-dictionary-log"`
	FileDictionaryRewriteThreshold thresholdValue `toml:"file-dictionary-rewrite-threshold"`
	MasterKey                      toml.Primitive `toml:"master-key"`
	PreviousMasterKey              toml.Primitive `toml:"previous-master-key"`
}

// masterKeyTOML is a master-key section as written. A backend's own
// settings, when one needs more than these, go in a sub-table named after
// it ([security.encryption.master-key.aws], say): a field here and an
// entry in masterKeyFields.
type masterKeyTOML struct {
	Type         kindValue   `toml:"type"`
	Path         stringValue `toml:"path"`
	KeyID        stringValue `toml:"key-id"`
	Region       stringValue `toml:"region"`
	Endpoint     stringValue `toml:"endpoint"`
	Vendor       stringValue `toml:"vendor"`
	PasswordEnv  stringValue `toml:"password-env"`
	PasswordFile stringValue `toml:"password-file"`

	// kms: the vendors' sub-tables, decoded by decodeVendorSettings.
	AWS   toml.Primitive `toml:"aws"`
	Azure toml.Primitive `toml:"azure"`
	GCP   toml.Primitive `toml:"gcp"`

	// vault and kmip.
	Address       stringValue     `toml:"address"`
	Mount         stringValue     `toml:"mount"`
	KeyName       stringValue     `toml:"key-name"`
	TokenFile     stringValue     `toml:"token-file"`
	TokenEnv      stringValue     `toml:"token-env"`
	RoleID        stringValue     `toml:"role-id"`
	SecretIDFile  stringValue     `toml:"secret-id-file"`
	AppRoleMount  stringValue     `toml:"approle-mount"`
	Namespace     stringValue     `toml:"namespace"`
	CAFile        stringValue     `toml:"ca-file"`
	TLSServerName stringValue     `toml:"tls-server-name"`
	Endpoints     stringListValue `toml:"endpoints"`
	ClientCert    stringValue     `toml:"client-certificate"`
	ClientKey     stringValue     `toml:"client-key"`
	ServerName    stringValue     `toml:"server-name"`
}

// masterKeyFields lists the keys each master-key type takes besides type;
// the first ones of each list are required.
var masterKeyFields = map[Kind]struct{ required, optional []string }{
	KindPlaintext: {},
	KindFile:      {required: []string{"path"}},
	KindKMS:       {required: []string{"key-id"}, optional: []string{"region", "endpoint", "vendor", "aws", "azure", "gcp"}},
	KindKeyring:   {required: []string{"path", "key-id"}, optional: []string{"password-env", "password-file"}},
	KindVault: {required: []string{"address", "key-name"}, optional: []string{"mount", "token-file", "token-env",
		"role-id", "secret-id-file", "approle-mount", "namespace", "ca-file", "tls-server-name"}},
	KindKMIP: {required: []string{"endpoints", "key-id"}, optional: []string{"client-certificate", "client-key", "ca-file", "server-name"}},
}

// decodeMasterKey decodes the master-key section at key and checks it has
// the keys its type needs and no others.
func decodeMasterKey(md *toml.MetaData, p toml.Primitive, key toml.Key) (MasterKeyConfig, error) {
	var t masterKeyTOML
	if err := decodeTable(md, p, key, &t); err != nil {
		return MasterKeyConfig{}, err
	}
	if !md.IsDefined(subKey(key, "type")...) {
		return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s.type is missing (plaintext, file, kms, keyring, vault or kmip)", ErrConfig, key)
	}
	mk := MasterKeyConfig{
		Type: Kind(t.Type), Path: string(t.Path), KeyID: string(t.KeyID), Region: string(t.Region),
		Endpoint: string(t.Endpoint), Vendor: string(t.Vendor), PasswordEnv: string(t.PasswordEnv), PasswordFile: string(t.PasswordFile),
	}
	fields := masterKeyFields[mk.Type]
	for _, k := range keysIn(md, key) {
		if k != "type" && !slices.Contains(fields.required, k) && !slices.Contains(fields.optional, k) {
			return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s.%s: not a key of a %s master key", ErrConfig, key, k, mk.Type)
		}
	}
	required := fields.required
	if mk.Type == KindKMS {
		if !slices.Contains(kmsVendors, mk.Vendor) {
			return MasterKeyConfig{}, badValue(key.String()+".vendor", mk.Vendor, "valid: %s", strings.Join(kmsVendors[1:], ", "))
		}
		if mk.Vendor == "" || mk.Vendor == "aws" { // TiKV needs a region for AWS only
			required = append(slices.Clip(required), "region")
		}
		if err := decodeVendorSettings(md, &t, key, &mk); err != nil {
			return MasterKeyConfig{}, err
		}
	}
	for _, k := range required {
		if !md.IsDefined(subKey(key, k)...) {
			return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s.%s is missing (required for a %s master key)", ErrConfig, key, k, mk.Type)
		}
	}
	switch mk.Type {
	case KindKeyring:
		if (mk.PasswordEnv == "") == (mk.PasswordFile == "") {
			return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s: a keyring master key needs exactly one of password-env and password-file", ErrConfig, key)
		}
	case KindVault:
		mk.Vault = vaultSettings(&t)
		if err := checkVaultAuth(mk.Vault); err != nil {
			return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s: %w", ErrConfig, key, err)
		}
	case KindKMIP:
		mk.KMIP = KMIPSettings{Endpoints: []string(t.Endpoints), KeyID: mk.KeyID, ClientCert: string(t.ClientCert),
			ClientKey: string(t.ClientKey), CAFile: string(t.CAFile), ServerName: string(t.ServerName)}
		if (mk.KMIP.ClientCert == "") != (mk.KMIP.ClientKey == "") {
			return MasterKeyConfig{}, fmt.Errorf("keyenv: %w: %s: client-certificate and client-key go together", ErrConfig, key)
		}
	}
	return mk, nil
}
