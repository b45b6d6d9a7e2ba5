package keyenv

import (
	"context"
	"fmt"
	"sync"
)

// Opener opens the master key a configuration section describes: mk holds
// the type, the vendor and the backend's own settings, opts the caller's
// options (ApplyOptions reads them). ctx bounds what opening does; an
// opener need not reach a remote service, which the first Seal or Unseal
// will.
type Opener func(ctx context.Context, mk MasterKeyConfig, opts ...Option) (Backend, error)

// backendKey is what selects an opener: the section's type and vendor
// ("" for types without vendors).
type backendKey struct {
	kind   Kind
	vendor string
}

var (
	registryMu sync.RWMutex
	// registry holds this package's own backends from the start; the
	// packages of backends that need an SDK add theirs when imported.
	registry = map[backendKey]Opener{
		{KindPlaintext, ""}: openPlaintext,
		{KindFile, ""}:      openFile,
		{KindKeyring, ""}:   openKeyring,
	}
)

// backendPackages names, for each backend that lives in a package of its
// own, the package that registers it, so that a program that did not
// import it is told what to import.
var backendPackages = map[backendKey]string{
	{KindKMS, "aws"}:   "github.com/atrest/atrest/keyenv/awskms",
	{KindKMS, "gcp"}:   "github.com/atrest/atrest/keyenv/gcpkms",
	{KindKMS, "azure"}: "github.com/atrest/atrest/keyenv/azurekms",
	{KindVault, ""}:    "github.com/atrest/atrest/keyenv/vaulttransit",
	{KindKMIP, ""}:     "github.com/atrest/atrest/keyenv/kmip",
}

// defaultVendors is the vendor a section of a type with vendors means
// when it names none (TiKV's default).
var defaultVendors = map[Kind]string{KindKMS: "aws"}

// RegisterBackend makes OpenBackend open master keys of type kind from
// vendor with open. A backend that needs an SDK lives in a package of its
// own that calls RegisterBackend from its init, so a program links the SDK
// only when it imports that package, for example
//
//	import _ "github.com/atrest/atrest/keyenv/awskms"
//
// vendor is "" for types that have no vendors. RegisterBackend panics on a
// kind this package does not know (blobs record the kind), a nil opener,
// or a type and vendor already registered.
func RegisterBackend(kind Kind, vendor string, open Opener) {
	if _, ok := kindNames[kind]; !ok {
		panic(fmt.Sprintf("keyenv: RegisterBackend: unknown kind %s", kind))
	}
	if open == nil {
		panic(fmt.Sprintf("keyenv: RegisterBackend: nil opener for %s", backendKey{kind, vendor}))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	key := backendKey{kind, vendor}
	if registry[key] != nil {
		panic(fmt.Sprintf("keyenv: RegisterBackend: %s registered twice", key))
	}
	registry[key] = open
}

// OpenBackend opens the backend a master-key section describes, with the
// opener registered for its type and vendor (a kms section without a
// vendor is AWS's). A backend whose package the program did not import
// fails with an error wrapping ErrBackendNotLinked that names the package
// to import.
func OpenBackend(ctx context.Context, mk MasterKeyConfig, opts ...Option) (Backend, error) {
	vendor := mk.Vendor
	if vendor == "" {
		vendor = defaultVendors[mk.Type]
	}
	key := backendKey{mk.Type, vendor}
	registryMu.RLock()
	open := registry[key]
	registryMu.RUnlock()
	if open != nil {
		return open(ctx, mk, opts...)
	}
	if pkg, ok := backendPackages[key]; ok {
		return nil, fmt.Errorf("keyenv: %s: %w; import %s", key, ErrBackendNotLinked, pkg)
	}
	if _, ok := kindNames[mk.Type]; !ok {
		return nil, fmt.Errorf("keyenv: %w: unknown master key type %s", ErrConfig, mk.Type)
	}
	return nil, fmt.Errorf("keyenv: %w: %s: unknown vendor", ErrConfig, key)
}

// String names the key as a configuration does: type "kms" vendor "aws".
func (k backendKey) String() string {
	if k.vendor == "" {
		return fmt.Sprintf("type %q", k.kind)
	}
	return fmt.Sprintf("type %q vendor %q", k.kind, k.vendor)
}

func openPlaintext(context.Context, MasterKeyConfig, ...Option) (Backend, error) {
	return Plaintext(), nil
}

func openFile(_ context.Context, mk MasterKeyConfig, opts ...Option) (Backend, error) {
	return OpenKeyFile(mk.Path, opts...)
}

func openKeyring(_ context.Context, mk MasterKeyConfig, opts ...Option) (Backend, error) {
	pw, err := ReadPassword(mk.PasswordEnv, mk.PasswordFile, opts...)
	if err != nil {
		return nil, err
	}
	defer pw.Release()
	return OpenKeyringBackend(mk.Path, mk.KeyID, pw.Bytes(), opts...)
}
