package keyenv

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backend is a master key: it seals and unseals small secrets (the key
// dictionary) under a label that says what is sealed. Implementations in
// this package are safe for concurrent use.
type Backend interface {
	// Kind is the backend's type.
	Kind() Kind
	// ID identifies the master key without revealing it: the key file's
	// path, the KMS key id and region, the keyring path and key name.
	ID() string
	// Secure reports whether the backend protects what it seals
	// (false only for plaintext).
	Secure() bool
	// Seal returns a sealed blob holding secret, bound to label.
	Seal(ctx context.Context, label string, secret []byte) ([]byte, error)
	// Unseal opens a blob sealed under label. A blob sealed by another
	// master key gives an error wrapping ErrWrongMasterKey (a blob that
	// records another key, without asking a key service); an altered
	// blob ErrCorruptBlob; a blob sealed under another label
	// ErrWrongLabel.
	Unseal(ctx context.Context, label string, blob []byte) (*Secret, error)
	// Holds reports whether r, the record of a sealed blob, names this
	// master key: MasterKeys picks the key that opens a blob by it. A
	// backend that holds several keys (a keyring's versions) holds each.
	Holds(r KeyRecord) bool
	// Close releases the backend's key material. Using the backend
	// afterwards is an error.
	Close() error
}

// KeySource is what differs between the encrypting backends: where the
// 256-bit sealing key comes from, and what a blob records to find it
// again. NewEnvelope makes a Backend of one; a backend package (see
// RegisterBackend) supplies a KeySource and leaves the blob format,
// AES-256-GCM, the key record (see KeyIdentifier) and the call metrics
// (CallStats) to this package.
type KeySource interface {
	// Kind is the backend's type, recorded in every blob it seals.
	Kind() Kind
	// ID identifies the key without revealing it (Backend.ID); the
	// source's errors name it. Unless the source implements
	// KeyIdentifier, blobs record it as the key identity.
	ID() string
	// SealingKey returns the key to seal under (SealingKeyBytes long) and
	// the key reference to store in the blob; the reference must reveal
	// nothing of the key.
	SealingKey(ctx context.Context, label string) (key *Secret, ref []byte, err error)
	// UnsealingKey finds the key a blob's reference names; a reference to
	// a key this source does not hold wraps ErrWrongMasterKey.
	UnsealingKey(ctx context.Context, label string, ref []byte) (*Secret, error)
	// Close releases the source's key material.
	Close() error
}

// NewEnvelope returns the Backend that seals with the keys src gives, in
// this package's sealed-blob format under AES-256-GCM. The backend owns
// src and closes it.
// Every Seal and Unseal is counted, timed and its error classified in the
// process's call statistics for src's kind and ID (CallStats).
func NewEnvelope(src KeySource) Backend {
	return &envelope{src: src, stats: callStatsFor(src.Kind(), src.ID())}
}

// envelope turns a KeySource into a Backend: the blob format, GCM and the
// call statistics are the same for every encrypting backend.
type envelope struct {
	src   KeySource
	stats *backendCalls
}

var errClosed = errors.New("keyenv: backend is closed")

func (e *envelope) Kind() Kind   { return e.src.Kind() }
func (e *envelope) ID() string   { return e.src.ID() }
func (e *envelope) Secure() bool { return true }
func (e *envelope) Close() error { return e.src.Close() }

func (e *envelope) Holds(r KeyRecord) bool { return sourceHolds(e.src, r) }

func (e *envelope) Seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	start := time.Now()
	blob, err := e.seal(ctx, label, secret)
	e.stats.record(opSeal, time.Since(start), err)
	return blob, err
}

func (e *envelope) Unseal(ctx context.Context, label string, blob []byte) (*Secret, error) {
	start := time.Now()
	s, err := e.unseal(ctx, label, blob)
	e.stats.record(opUnseal, time.Since(start), err)
	return s, err
}

func (e *envelope) seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("keyenv: %s: nothing to seal", e.ID())
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	key, ref, err := e.src.SealingKey(ctx, label)
	if err != nil {
		return nil, err
	}
	defer key.Release()
	blob, err := sealGCM(e.Kind(), label, identityOf(e.src, ref), ref, key.Bytes(), secret)
	if err != nil {
		return nil, errorf("%s: %w", e.ID(), err)
	}
	return blob, nil
}

func (e *envelope) unseal(ctx context.Context, label string, blob []byte) (*Secret, error) {
	sb, err := parseFor(e, label, blob)
	if err != nil {
		return nil, err
	}
	// A blob that records another key is not this key's, whatever the
	// key service would answer if asked (moto's KMS: access denied).
	if rec, named := sb.Record(); named && !e.Holds(rec) {
		return nil, fmt.Errorf("keyenv: %s: %w: the blob was sealed by the %s", e.ID(), ErrWrongMasterKey, rec)
	}
	key, err := e.src.UnsealingKey(ctx, label, sb.KeyRef)
	if err != nil {
		return nil, err
	}
	defer key.Release()
	s, err := openGCM(sb, key.Bytes())
	if err != nil {
		return nil, errorf("%s: %w", e.ID(), err)
	}
	return s, nil
}

// parseFor parses blob and checks it was sealed by b's kind under label.
func parseFor(b Backend, label string, blob []byte) (*SealedBlob, error) {
	sb, err := ParseSealedBlob(blob)
	if err != nil {
		return nil, err
	}
	if sb.Kind != b.Kind() {
		return nil, fmt.Errorf("keyenv: %s: %w: %w (the blob was sealed by a %s master key)",
			b.ID(), ErrWrongMasterKey, ErrWrongBackend, sb.Kind)
	}
	if sb.Label != label {
		return nil, fmt.Errorf("keyenv: %s: %w: sealed as %q, opened as %q", b.ID(), ErrWrongLabel, sb.Label, label)
	}
	return sb, nil
}

// Plaintext returns the plaintext backend: blobs hold the secret as it is.
// It is only allowed while the data method is plaintext (see
// CheckSecure); its blobs are what a later master key takes over through
// previous-master-key when encryption is turned on.
func Plaintext() Backend { return plaintextBackend{} }

type plaintextBackend struct{}

func (plaintextBackend) Kind() Kind   { return KindPlaintext }
func (plaintextBackend) ID() string   { return "plaintext" }
func (plaintextBackend) Secure() bool { return false }
func (plaintextBackend) Close() error { return nil }

// Holds reports whether r is a plaintext blob's: every plaintext backend
// opens every plaintext blob.
func (plaintextBackend) Holds(r KeyRecord) bool { return r.Kind == KindPlaintext }

func (plaintextBackend) Seal(_ context.Context, label string, secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, errors.New("keyenv: plaintext: nothing to seal")
	}
	return sealPlain(label, secret)
}

func (p plaintextBackend) Unseal(_ context.Context, label string, blob []byte) (*Secret, error) {
	sb, err := parseFor(p, label, blob)
	if err != nil {
		return nil, err
	}
	return openPlain(sb)
}
