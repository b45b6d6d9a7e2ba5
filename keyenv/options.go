package keyenv

import (
	"log/slog"
	"os"
	"time"
)

// Option adjusts how a backend is opened.
type Option func(*options)

type options struct {
	logger        *slog.Logger
	kmsTimeout    time.Duration
	kmsTryTimeout time.Duration
	kmsAttempts   int
	kmsMaxBackoff time.Duration
	kdfLimits     KDFLimits
	getenv        func(string) string
}

// Defaults for KMS calls: a call (all attempts) gives up after
// DefaultKMSTimeout; each attempt after DefaultKMSAttemptTimeout; at most
// DefaultKMSAttempts attempts, with the SDK's jittered exponential backoff
// between them.
const (
	DefaultKMSTimeout        = 30 * time.Second
	DefaultKMSAttemptTimeout = 10 * time.Second
	DefaultKMSAttempts       = 3
)

func buildOptions(opts []Option) options {
	o := options{
		logger:        slog.Default(),
		kmsTimeout:    DefaultKMSTimeout,
		kmsTryTimeout: DefaultKMSAttemptTimeout,
		kmsAttempts:   DefaultKMSAttempts,
		kdfLimits:     DefaultKDFLimits,
		getenv:        os.Getenv,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithLogger sets where warnings go (a world-readable key file, say).
// The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithKMSTimeouts bounds KMS calls: total for a whole call including
// retries, perAttempt for each HTTP attempt. Zero keeps a default.
func WithKMSTimeouts(total, perAttempt time.Duration) Option {
	return func(o *options) {
		if total > 0 {
			o.kmsTimeout = total
		}
		if perAttempt > 0 {
			o.kmsTryTimeout = perAttempt
		}
	}
}

// WithKMSAttempts sets how many attempts a KMS call makes before it fails
// (at least 1).
func WithKMSAttempts(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.kmsAttempts = n
		}
	}
}

// WithKMSMaxBackoff caps the wait between KMS attempts (the SDK's
// default is 20 s, with jittered exponential growth from about 1 s).
func WithKMSMaxBackoff(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.kmsMaxBackoff = d
		}
	}
}

// WithKDFLimits bounds the argon2id parameters a keyring file may ask for,
// so a tampered keyring cannot make opening it take gigabytes or hours.
func WithKDFLimits(l KDFLimits) Option {
	return func(o *options) { o.kdfLimits = l }
}

// WithGetenv replaces os.Getenv for the keyring's password-env lookup.
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) {
		if getenv != nil {
			o.getenv = getenv
		}
	}
}
