package keyenv

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/atrest/atrest/ctr"
)

// The types of the configuration's values. Each checks a value as toml
// decodes it and says what is wrong with it (see valueError); toml returns
// that in a ParseError naming the key, which decodeTable turns into
// "key = value: what is wrong".

// methodValue is data-encryption-method.
type methodValue ctr.Method

func (m *methodValue) UnmarshalTOML(v any) error {
	s, err := asString(v)
	if err != nil {
		return err
	}
	method, err := ctr.ParseMethod(s)
	if err != nil {
		return valueError(v, "%v (valid: %s)", errors.Unwrap(err), methodList())
	}
	*m = methodValue(method)
	return nil
}

func methodList() string {
	names := make([]string, len(ctr.Methods))
	for i, m := range ctr.Methods {
		names[i] = m.String()
	}
	return strings.Join(names, ", ")
}

// periodValue is data-key-rotation-period: a duration longer than zero,
// as ParseDuration reads it.
type periodValue time.Duration

func (p *periodValue) UnmarshalTOML(v any) error {
	s, err := asString(v)
	if err != nil {
		return err
	}
	d, err := ParseDuration(s)
	if err != nil {
		return valueError(v, "%v", err)
	}
	if d <= 0 {
		return valueError(v, "must be longer than zero")
	}
	*p = periodValue(d)
	return nil
}

// boolValue is enable-file-dictionary-log.
type boolValue bool

func (b *boolValue) UnmarshalTOML(v any) error {
	x, ok := v.(bool)
	if !ok {
		return valueError(v, "must be true or false")
	}
	*b = boolValue(x)
	return nil
}

// thresholdValue is file-dictionary-rewrite-threshold: a positive int32.
type thresholdValue int

func (t *thresholdValue) UnmarshalTOML(v any) error {
	n, ok := v.(int64)
	if !ok || n < 1 || n > 1<<31-1 {
		return valueError(v, "must be a whole number from 1 to %d", 1<<31-1)
	}
	*t = thresholdValue(n)
	return nil
}

// kindValue is a master key's type.
type kindValue Kind

func (k *kindValue) UnmarshalTOML(v any) error {
	s, err := asString(v)
	if err != nil {
		return err
	}
	for kind, name := range kindNames {
		if name == s {
			*k = kindValue(kind)
			return nil
		}
	}
	return valueError(v, "unknown master key type (valid: plaintext, file, kms, keyring)")
}

// stringValue is a master key's other settings: strings, never empty.
type stringValue string

func (s *stringValue) UnmarshalTOML(v any) error {
	x, err := asString(v)
	if err != nil {
		return err
	}
	if x == "" {
		return valueError(v, "must not be empty")
	}
	*s = stringValue(x)
	return nil
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", valueError(v, "must be a string")
	}
	return s, nil
}

// valueError says what is wrong with v, showing v the way TOML would.
func valueError(v any, format string, args ...any) error {
	shown := fmt.Sprint(v)
	if s, ok := v.(string); ok {
		shown = fmt.Sprintf("%q", s)
	}
	return errors.New(shown + ": " + fmt.Sprintf(format, args...))
}

// badValue names the key and says what is wrong with its value v.
func badValue(name string, v any, format string, args ...any) error {
	return fmt.Errorf("keyenv: %w: %s = %w", ErrConfig, name, valueError(v, format, args...))
}

// decodeTable decodes p, the value at key, into v, refusing a value that is
// not a table. An error of one of the value types above comes back naming
// the key.
func decodeTable(md *toml.MetaData, p toml.Primitive, key toml.Key, v any) error {
	var raw any // decoding into any marks nothing as decoded
	if err := md.PrimitiveDecode(p, &raw); err != nil {
		return fmt.Errorf("keyenv: %w: %w", ErrConfig, err)
	}
	if _, ok := raw.(map[string]any); !ok {
		return badValue(key.String(), raw, "must be a table")
	}
	err := md.PrimitiveDecode(p, v)
	var pe toml.ParseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe) && pe.LastKey != "":
		return fmt.Errorf("keyenv: %w: %s = %s", ErrConfig, pe.LastKey, pe.Message)
	}
	return fmt.Errorf("keyenv: %w: %w", ErrConfig, err)
}

// keysIn lists the keys of the table at key as they are written, sorted.
// MetaData.Undecoded would miss two kinds of stray key: one that toml
// matched to a field without regard to case (TiKV's names are exact), and
// a master key's setting that belongs to another type (every type shares
// masterKeyTOML). So the callers compare these with the exact names.
func keysIn(md *toml.MetaData, key toml.Key) []string {
	var keys []string
	for _, k := range md.Keys() {
		if len(k) == len(key)+1 && slices.Equal(k[:len(key)], key) {
			keys = append(keys, k[len(key)])
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// tomlNames lists the toml tags of the fields of struct v, sorted.
func tomlNames(v any) []string {
	t := reflect.TypeOf(v)
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("toml")
	}
	slices.Sort(names)
	return names
}

// subKey returns key.name without sharing key's backing array.
func subKey(key toml.Key, name string) toml.Key {
	return append(slices.Clip(key), name)
}

// stringListValue is a non-empty array of non-empty strings (kmip's
// endpoints).
type stringListValue []string

func (l *stringListValue) UnmarshalTOML(v any) error {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return valueError(v, "must be a non-empty array of strings")
	}
	out := make([]string, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok || s == "" {
			return valueError(v, "must be a non-empty array of strings")
		}
		out[i] = s
	}
	*l = out
	return nil
}
