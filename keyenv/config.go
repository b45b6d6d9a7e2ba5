package keyenv

import (
	"errors"
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

const section = "security.encryption"

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
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return Config{}, fmt.Errorf("keyenv: %w: %w", ErrConfig, err)
	}
	c := DefaultConfig()
	sec, ok := doc["security"]
	if !ok {
		return c, nil
	}
	secTable, ok := sec.(map[string]any)
	if !ok {
		return Config{}, badValue("security", sec, "must be a table")
	}
	enc, ok := secTable["encryption"]
	if !ok {
		return c, nil
	}
	t, ok := enc.(map[string]any)
	if !ok {
		return Config{}, badValue(section, enc, "must be a table")
	}
	for _, key := range sortedKeys(t) {
		v := t[key]
		name := section + "." + key
		var err error
		switch key {
		case "data-encryption-method":
			var s string
			if s, err = asString(name, v); err == nil {
				if c.DataEncryptionMethod, err = ctr.ParseMethod(s); err != nil {
					err = badValue(name, v, "%v", errors.Unwrap(err))
					err = fmt.Errorf("%w (valid: %s)", err, methodList())
				}
			}
		case "data-key-rotation-period":
			var s string
			if s, err = asString(name, v); err == nil {
				var d time.Duration
				if d, err = ParseDuration(s); err != nil {
					err = badValue(name, v, "%v", err)
				} else if d <= 0 {
					err = badValue(name, v, "must be longer than zero")
				}
				c.DataKeyRotationPeriod = d
			}
		case "enable-file-dictionary-log":
			b, isBool := v.(bool)
			if !isBool {
				err = badValue(name, v, "must be true or false")
			}
			c.EnableFileDictionaryLog = b
		case "file-dictionary-rewrite-threshold":
			n, isInt := v.(int64)
			if !isInt || n < 1 || n > 1<<31-1 {
				err = badValue(name, v, "must be a whole number from 1 to %d", 1<<31-1)
			}
			c.FileDictionaryRewriteThreshold = int(n)
		case "master-key":
			c.MasterKey, err = parseMasterKey(name, v)
		case "previous-master-key":
			var mk MasterKeyConfig
			if mk, err = parseMasterKey(name, v); err == nil {
				c.PreviousMasterKey = &mk
			}
		default:
			err = fmt.Errorf("keyenv: %w: %s: unknown key (valid: data-encryption-method, data-key-rotation-period, enable-file-dictionary-log, file-dictionary-rewrite-threshold, master-key, previous-master-key)", ErrConfig, name)
		}
		if err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

func methodList() string {
	names := make([]string, len(ctr.Methods))
	for i, m := range ctr.Methods {
		names[i] = m.String()
	}
	return strings.Join(names, ", ")
}

// masterKeyFields lists the keys each master-key type takes; the first
// ones of each list are required.
var masterKeyFields = map[Kind]struct{ required, optional []string }{
	KindPlaintext: {},
	KindFile:      {required: []string{"path"}},
	KindKMS:       {required: []string{"key-id", "region"}, optional: []string{"endpoint", "vendor"}},
	KindKeyring:   {required: []string{"path", "key-id"}, optional: []string{"password-env", "password-file"}},
}

func parseMasterKey(name string, v any) (MasterKeyConfig, error) {
	t, ok := v.(map[string]any)
	if !ok {
		return MasterKeyConfig{}, badValue(name, v, "must be a table")
	}
	var mk MasterKeyConfig
	typ, ok := t["type"]
	if !ok {
		return mk, fmt.Errorf("keyenv: %w: %s.type is missing (plaintext, file, kms or keyring)", ErrConfig, name)
	}
	s, err := asString(name+".type", typ)
	if err != nil {
		return mk, err
	}
	for k, n := range kindNames {
		if n == s {
			mk.Type = k
		}
	}
	if mk.Type == 0 {
		return mk, badValue(name+".type", typ, "unknown master key type (valid: plaintext, file, kms, keyring)")
	}
	fields := masterKeyFields[mk.Type]
	for _, key := range sortedKeys(t) {
		if key == "type" {
			continue
		}
		if !slices.Contains(fields.required, key) && !slices.Contains(fields.optional, key) {
			return mk, fmt.Errorf("keyenv: %w: %s.%s: not a key of a %s master key", ErrConfig, name, key, mk.Type)
		}
		s, err := asString(name+"."+key, t[key])
		if err != nil {
			return mk, err
		}
		if s == "" {
			return mk, badValue(name+"."+key, s, "must not be empty")
		}
		switch key {
		case "path":
			mk.Path = s
		case "key-id":
			mk.KeyID = s
		case "region":
			mk.Region = s
		case "endpoint":
			mk.Endpoint = s
		case "vendor":
			if s != "aws" {
				return mk, badValue(name+"."+key, s, "only \"aws\" is supported")
			}
			mk.Vendor = s
		case "password-env":
			mk.PasswordEnv = s
		case "password-file":
			mk.PasswordFile = s
		}
	}
	for _, key := range fields.required {
		if _, ok := t[key]; !ok {
			return mk, fmt.Errorf("keyenv: %w: %s.%s is missing (required for a %s master key)", ErrConfig, name, key, mk.Type)
		}
	}
	if mk.Type == KindKeyring && (mk.PasswordEnv == "") == (mk.PasswordFile == "") {
		return mk, fmt.Errorf("keyenv: %w: %s: a keyring master key needs exactly one of password-env and password-file", ErrConfig, name)
	}
	return mk, nil
}

func asString(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", badValue(name, v, "must be a string")
	}
	return s, nil
}

// badValue names the key and shows the value the way TOML would.
func badValue(name string, v any, format string, args ...any) error {
	shown := fmt.Sprint(v)
	if s, ok := v.(string); ok {
		shown = fmt.Sprintf("%q", s)
	}
	return fmt.Errorf("keyenv: %w: %s = %s: %s", ErrConfig, name, shown, fmt.Sprintf(format, args...))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
