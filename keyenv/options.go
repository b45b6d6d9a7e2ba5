package keyenv

import (
	"log/slog"
	"os"
	"time"
)

// Option adjusts how a backend is opened.
type Option func(*Settings)

// Settings is what a list of Options comes to, defaults filled in. A
// backend package reads it with ApplyOptions; the KMS settings apply to
// every backend that calls a remote key service (AWS KMS today).
type Settings struct {
	// Logger receives warnings (a world-readable key file, say).
	Logger *slog.Logger
	// KMSTimeout bounds a whole KMS call, all attempts included.
	KMSTimeout time.Duration
	// KMSAttemptTimeout bounds each attempt of a KMS call.
	KMSAttemptTimeout time.Duration
	// KMSAttempts is how many attempts a KMS call makes (at least 1).
	KMSAttempts int
	// KMSMaxBackoff caps the wait between attempts; zero keeps the SDK's.
	KMSMaxBackoff time.Duration
	// KDFLimits bound the argon2id parameters a keyring file may ask for.
	KDFLimits KDFLimits
	// Getenv looks up the keyring's password-env variable.
	Getenv func(string) string
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

// ApplyOptions returns the settings opts make, starting from the defaults.
func ApplyOptions(opts ...Option) Settings {
	o := Settings{
		Logger:            slog.Default(),
		KMSTimeout:        DefaultKMSTimeout,
		KMSAttemptTimeout: DefaultKMSAttemptTimeout,
		KMSAttempts:       DefaultKMSAttempts,
		KDFLimits:         DefaultKDFLimits,
		Getenv:            os.Getenv,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithLogger sets where warnings go (a world-readable key file, say).
// The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *Settings) {
		if l != nil {
			o.Logger = l
		}
	}
}

// WithKMSTimeouts bounds KMS calls: total for a whole call including
// retries, perAttempt for each HTTP attempt. Zero keeps a default.
func WithKMSTimeouts(total, perAttempt time.Duration) Option {
	return func(o *Settings) {
		if total > 0 {
			o.KMSTimeout = total
		}
		if perAttempt > 0 {
			o.KMSAttemptTimeout = perAttempt
		}
	}
}

// WithKMSAttempts sets how many attempts a KMS call makes before it fails
// (at least 1).
func WithKMSAttempts(n int) Option {
	return func(o *Settings) {
		if n >= 1 {
			o.KMSAttempts = n
		}
	}
}

// WithKMSMaxBackoff caps the wait between KMS attempts (the SDK's
// default is 20 s, with jittered exponential growth from about 1 s).
func WithKMSMaxBackoff(d time.Duration) Option {
	return func(o *Settings) {
		if d > 0 {
			o.KMSMaxBackoff = d
		}
	}
}

// WithKDFLimits bounds the argon2id parameters a keyring file may ask for,
// so a tampered keyring cannot make opening it take gigabytes or hours.
func WithKDFLimits(l KDFLimits) Option {
	return func(o *Settings) { o.KDFLimits = l }
}

// WithGetenv replaces os.Getenv for the keyring's password-env lookup.
func WithGetenv(getenv func(string) string) Option {
	return func(o *Settings) {
		if getenv != nil {
			o.Getenv = getenv
		}
	}
}
