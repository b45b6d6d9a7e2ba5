package keyenv

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
[server]
addr = "0.0.0.0:20160"   # other sections are the engine's business

[security]
ca-path = ""

[security.encryption]
data-encryption-method = "sm4-ctr"
data-key-rotation-period = "7d"
enable-file-dictionary-log = false
file-dictionary-rewrite-threshold = 5000

[security.encryption.master-key]
type = "kms"
key-id = "0987dcba-09fe-87dc-65ba-ab0987654321"
region = "us-west-2"
endpoint = "https://kms.us-west-2.amazonaws.com"
vendor = "aws"

[security.encryption.previous-master-key]
type = "file"
path = "/path/to/key/file"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DataEncryptionMethod:           ctr.SM4CTR,
		DataKeyRotationPeriod:          168 * time.Hour,
		EnableFileDictionaryLog:        false,
		FileDictionaryRewriteThreshold: 5000,
		MasterKey: MasterKeyConfig{Type: KindKMS, KeyID: "0987dcba-09fe-87dc-65ba-ab0987654321",
			Region: "us-west-2", Endpoint: "https://kms.us-west-2.amazonaws.com", Vendor: "aws"},
		PreviousMasterKey: &MasterKeyConfig{Type: KindFile, Path: "/path/to/key/file"},
	}
	if c.PreviousMasterKey == nil || !reflect.DeepEqual(*c.PreviousMasterKey, *want.PreviousMasterKey) {
		t.Fatalf("previous master key %+v", c.PreviousMasterKey)
	}
	c.PreviousMasterKey, want.PreviousMasterKey = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, doc := range []string{"", "[security]\n", "[security.encryption]\n"} {
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, DefaultConfig()) {
			t.Errorf("%q: %+v", doc, c)
		}
	}
	d := DefaultConfig()
	if d.DataEncryptionMethod != ctr.Plaintext || d.DataKeyRotationPeriod != 7*24*time.Hour ||
		!d.EnableFileDictionaryLog || d.MasterKey.Type != KindPlaintext || d.PreviousMasterKey != nil {
		t.Errorf("defaults %+v", d)
	}
	c, err := ParseConfig([]byte("[security.encryption.master-key]\ntype = \"keyring\"\npath = \"/k\"\nkey-id = \"tikv\"\npassword-file = \"/pw\"\n"))
	if err != nil || !reflect.DeepEqual(c.MasterKey, MasterKeyConfig{Type: KindKeyring, Path: "/k", KeyID: "tikv", PasswordFile: "/pw"}) {
		t.Fatalf("keyring: %+v %v", c.MasterKey, err)
	}
}

// Every bad configuration is an ErrConfig error naming the key and, where
// there is one, the value.
func TestParseConfigErrors(t *testing.T) {
	const sec = "[security.encryption]\n"
	const mk = "[security.encryption.master-key]\n"
	for _, tt := range []struct {
		name, doc string
		says      []string
	}{
		{"unknown key", sec + "data-encryption-mehtod = \"aes128-ctr\"\n", []string{"security.encryption.data-encryption-mehtod", "unknown key"}},
		{"unknown method", sec + "data-encryption-method = \"aes512-ctr\"\n", []string{"data-encryption-method", `"aes512-ctr"`, "aes128-ctr, aes192-ctr"}},
		{"method type", sec + "data-encryption-method = 128\n", []string{"data-encryption-method = 128", "string"}},
		{"bad duration", sec + "data-key-rotation-period = \"7 days\"\n", []string{"data-key-rotation-period", `"7 days"`}},
		{"duration unit", sec + "data-key-rotation-period = \"7w\"\n", []string{"data-key-rotation-period", `"7w"`, "unknown unit"}},
		{"duration no unit", sec + "data-key-rotation-period = \"168\"\n", []string{"data-key-rotation-period", "missing unit"}},
		{"duration zero", sec + "data-key-rotation-period = \"0s\"\n", []string{"data-key-rotation-period", "longer than zero"}},
		{"duration type", sec + "data-key-rotation-period = 168\n", []string{"data-key-rotation-period = 168", "string"}},
		{"bool type", sec + "enable-file-dictionary-log = \"yes\"\n", []string{"enable-file-dictionary-log", `"yes"`}},
		{"threshold type", sec + "file-dictionary-rewrite-threshold = \"many\"\n", []string{"file-dictionary-rewrite-threshold", `"many"`}},
		{"threshold zero", sec + "file-dictionary-rewrite-threshold = 0\n", []string{"file-dictionary-rewrite-threshold = 0"}},
		{"master key not a table", sec + "master-key = \"file\"\n", []string{"master-key", "table"}},
		{"master key type missing", mk + "path = \"/k\"\n", []string{"master-key.type is missing"}},
		{"master key type unknown", mk + "type = \"hsm\"\n", []string{"master-key.type", `"hsm"`}},
		{"master key type type", mk + "type = 1\n", []string{"master-key.type = 1"}},
		{"file without path", mk + "type = \"file\"\n", []string{"master-key.path is missing"}},
		{"file with region", mk + "type = \"file\"\npath = \"/k\"\nregion = \"x\"\n", []string{"master-key.region", "not a key of a file master key"}},
		{"kms without region", mk + "type = \"kms\"\nkey-id = \"k\"\n", []string{"master-key.region is missing"}},
		{"kms vendor", mk + "type = \"kms\"\nkey-id = \"k\"\nregion = \"r\"\nvendor = \"oracle\"\n", []string{"master-key.vendor", `"oracle"`, "aws, azure, gcp"}},
		{"aws without region", mk + "type = \"kms\"\nkey-id = \"k\"\n", []string{"master-key.region", "missing"}},
		{"sub-table of another vendor", mk + "type = \"kms\"\nkey-id = \"k\"\nvendor = \"gcp\"\n[security.encryption.master-key.azure]\ntenant-id = \"t\"\n", []string{"master-key.azure", "vendor azure", "vendor gcp"}},
		{"aws secret without key", mk + "type = \"kms\"\nkey-id = \"k\"\nregion = \"r\"\n[security.encryption.master-key.aws]\nsecret-access-key = \"s\"\n", []string{"master-key.aws", "go together"}},
		{"azure without vault", mk + "type = \"kms\"\nkey-id = \"k\"\nvendor = \"azure\"\n[security.encryption.master-key.azure]\ntenant-id = \"t\"\n", []string{"master-key.azure", "keyvault-url"}},
		{"vault without login", mk + "type = \"vault\"\naddress = \"https://v\"\nkey-name = \"k\"\n", []string{"master-key", "token-file"}},
		{"vault two logins", mk + "type = \"vault\"\naddress = \"https://v\"\nkey-name = \"k\"\ntoken-env = \"T\"\ntoken-file = \"/t\"\n", []string{"master-key", "exactly one"}},
		{"vault role without secret", mk + "type = \"vault\"\naddress = \"https://v\"\nkey-name = \"k\"\nrole-id = \"r\"\n", []string{"master-key", "role-id and secret-id-file"}},
		{"vault without key name", mk + "type = \"vault\"\naddress = \"https://v\"\ntoken-env = \"T\"\n", []string{"master-key.key-name", "missing"}},
		{"kmip endpoints not a list", mk + "type = \"kmip\"\nendpoints = \"h:5696\"\nkey-id = \"1\"\n", []string{"master-key.endpoints", "array"}},
		{"kmip empty endpoints", mk + "type = \"kmip\"\nendpoints = []\nkey-id = \"1\"\n", []string{"master-key.endpoints", "array"}},
		{"kmip key without cert", mk + "type = \"kmip\"\nendpoints = [\"h:5696\"]\nkey-id = \"1\"\nclient-key = \"/k\"\n", []string{"master-key", "go together"}},
		{"kmip with vault key", mk + "type = \"kmip\"\nendpoints = [\"h:5696\"]\nkey-id = \"1\"\ntoken-env = \"T\"\n", []string{"master-key.token-env", "not a key of a kmip master key"}},
		{"kms empty key id", mk + "type = \"kms\"\nkey-id = \"\"\nregion = \"r\"\n", []string{"master-key.key-id", "empty"}},
		{"plaintext with path", mk + "type = \"plaintext\"\npath = \"/k\"\n", []string{"master-key.path", "plaintext"}},
		{"keyring without password", mk + "type = \"keyring\"\npath = \"/k\"\nkey-id = \"n\"\n", []string{"master-key", "password-env", "password-file"}},
		{"keyring with both passwords", mk + "type = \"keyring\"\npath = \"/k\"\nkey-id = \"n\"\npassword-env = \"A\"\npassword-file = \"/p\"\n", []string{"exactly one"}},
		{"keyring password on command line", mk + "type = \"keyring\"\npath = \"/k\"\nkey-id = \"n\"\npassword = \"hunter2\"\n", []string{"master-key.password", "not a key"}},
		{"previous unknown key", "[security.encryption.previous-master-key]\ntype = \"file\"\npath = \"/k\"\nkeyid = \"x\"\n", []string{"previous-master-key.keyid"}},
		{"toml syntax", sec + "data-encryption-method = \n", []string{"toml"}},
		{"encryption not a table", "[security]\nencryption = 1\n", []string{"security.encryption = 1"}},
		{"key in another case", sec + "DATA-ENCRYPTION-METHOD = \"aes128-ctr\"\n", []string{"security.encryption.DATA-ENCRYPTION-METHOD", "unknown key"}},
		{"master key in another case", sec + "MASTER-KEY = {type = \"file\", path = \"/k\"}\n", []string{"security.encryption.MASTER-KEY", "unknown key"}},
		{"master key key in another case", mk + "type = \"file\"\npath = \"/k\"\nPATH = \"/j\"\n", []string{"master-key.PATH", "not a key of a file master key"}},
		{"backend sub-table", mk + "type = \"kms\"\nkey-id = \"k\"\nregion = \"r\"\n[security.encryption.master-key.aws]\nprofile = \"p\"\n", []string{"master-key.aws.profile", "unknown key", "access-key"}},
		{"master key array of tables", sec + "[[security.encryption.master-key]]\ntype = \"file\"\n", []string{"master-key", "table"}},
		{"security not a table", "security = 1\n", []string{"security = 1", "table"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("%v, want ErrConfig", err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// Inline tables are tables, and the rest of a TiKV configuration is not
// looked at, whatever its keys and values.
func TestParseConfigInlineAndOthers(t *testing.T) {
	c, err := ParseConfig([]byte(`
[server]
addr = 1
[security]
ca-path = 2
ENCRYPTION = "not ours: keys are exact"
encryption = {data-encryption-method = "aes256-ctr", master-key = {type = "file", path = "/k"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataEncryptionMethod != ctr.AES256CTR || !reflect.DeepEqual(c.MasterKey, MasterKeyConfig{Type: KindFile, Path: "/k"}) {
		t.Fatalf("%+v", c)
	}
}

// Every key a master-key type takes has a field to be decoded into.
func TestMasterKeyFieldsDecoded(t *testing.T) {
	names := tomlNames(masterKeyTOML{})
	for kind, f := range masterKeyFields {
		for _, k := range append(f.required, f.optional...) {
			if !slices.Contains(names, k) {
				t.Errorf("%s master key: %s has no field in masterKeyTOML", kind, k)
			}
		}
	}
	if len(masterKeyFields) != len(kindNames) {
		t.Errorf("masterKeyFields has %d types, kindNames %d", len(masterKeyFields), len(kindNames))
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"168h", 168 * time.Hour, true},
		{"7d", 168 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true},
		{"90m", 90 * time.Minute, true},
		{"30s", 30 * time.Second, true},
		{"250ms", 250 * time.Millisecond, true},
		{"1h30m15s", time.Hour + 30*time.Minute + 15*time.Second, true},
		{" 7d ", 168 * time.Hour, true},
		{"0s", 0, true},
		{"", 0, false},
		{"7", 0, false},
		{"d", 0, false},
		{"7days", 0, false},
		{"7D", 0, false},
		{"-7d", 0, false},
		{"1..5h", 0, false},
		{"7d 1h", 0, false},
		{"99999999999999d", 0, false},
	} {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Each backend's keys land in its settings, TiKV's sub-tables included.
func TestParseConfigBackends(t *testing.T) {
	const mk = "[security.encryption.master-key]\n"
	for _, tt := range []struct {
		name, doc string
		want      MasterKeyConfig
	}{
		{"aws credentials", mk + "type = \"kms\"\nkey-id = \"k\"\nregion = \"r\"\n[security.encryption.master-key.aws]\naccess-key = \"AK\"\nsecret-access-key = \"SK\"\n",
			MasterKeyConfig{Type: KindKMS, KeyID: "k", Region: "r", AWS: AWSSettings{AccessKey: "AK", SecretAccessKey: "SK"}}},
		{"gcp", mk + "type = \"kms\"\nvendor = \"gcp\"\nkey-id = \"projects/p/locations/global/keyRings/r/cryptoKeys/k\"\n[security.encryption.master-key.gcp]\ncredential-file-path = \"/c.json\"\n",
			MasterKeyConfig{Type: KindKMS, Vendor: "gcp", KeyID: "projects/p/locations/global/keyRings/r/cryptoKeys/k", GCP: GCPSettings{CredentialFilePath: "/c.json"}}},
		{"gcp default credentials", mk + "type = \"kms\"\nvendor = \"gcp\"\nkey-id = \"projects/p/locations/l/keyRings/r/cryptoKeys/k\"\n",
			MasterKeyConfig{Type: KindKMS, Vendor: "gcp", KeyID: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}},
		{"azure", mk + "type = \"kms\"\nvendor = \"azure\"\nkey-id = \"k\"\nregion = \"westeurope\"\n[security.encryption.master-key.azure]\ntenant-id = \"t\"\nclient-id = \"c\"\nclient-secret = \"s\"\nkeyvault-url = \"https://v.vault.azure.net\"\n",
			MasterKeyConfig{Type: KindKMS, Vendor: "azure", KeyID: "k", Region: "westeurope",
				Azure: AzureSettings{TenantID: "t", ClientID: "c", ClientSecret: "s", KeyVaultURL: "https://v.vault.azure.net"}}},
		{"vault token file", mk + "type = \"vault\"\naddress = \"https://v:8200\"\nkey-name = \"k\"\ntoken-file = \"/t\"\nnamespace = \"ns\"\nca-file = \"/ca.pem\"\n",
			MasterKeyConfig{Type: KindVault, Vault: VaultSettings{Address: "https://v:8200", Mount: "transit", KeyName: "k", TokenFile: "/t",
				AppRoleMount: "approle", Namespace: "ns", CAFile: "/ca.pem"}}},
		{"vault approle", mk + "type = \"vault\"\naddress = \"https://v:8200\"\nmount = \"kv-transit\"\nkey-name = \"k\"\nrole-id = \"r\"\nsecret-id-file = \"/s\"\n",
			MasterKeyConfig{Type: KindVault, Vault: VaultSettings{Address: "https://v:8200", Mount: "kv-transit", KeyName: "k", RoleID: "r",
				SecretIDFile: "/s", AppRoleMount: "approle"}}},
		{"kmip", mk + "type = \"kmip\"\nendpoints = [\"a:5696\", \"b:5696\"]\nkey-id = \"42\"\nclient-certificate = \"/c.pem\"\nclient-key = \"/k.pem\"\nca-file = \"/ca.pem\"\nserver-name = \"kms\"\n",
			MasterKeyConfig{Type: KindKMIP, KeyID: "42", KMIP: KMIPSettings{Endpoints: []string{"a:5696", "b:5696"}, KeyID: "42",
				ClientCert: "/c.pem", ClientKey: "/k.pem", CAFile: "/ca.pem", ServerName: "kms"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.MasterKey, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", c.MasterKey, tt.want)
			}
		})
	}
}
