package vaulttransit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	vault "github.com/hashicorp/vault/api"

	"github.com/atrest/atrest/keyenv"
)

// statusOf is the HTTP status of a Vault error response, 0 for other
// errors.
func statusOf(err error) int {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// vaultMessage is what Vault said, without the request URL and the
// multi-line layout of ResponseError.Error.
func vaultMessage(err error) string {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return err.Error()
	}
	msg := strings.Join(re.Errors, "; ")
	if re.RawError || msg == "" {
		msg = "no error message"
	}
	return fmt.Sprintf("HTTP %d: %s", re.StatusCode, msg)
}

// responseError shows a Vault error response as vaultMessage does; it
// unwraps to the client's error.
type responseError struct{ err error }

func (e responseError) Error() string { return vaultMessage(e.err) }
func (e responseError) Unwrap() error { return e.err }

// classify maps a Vault client error to keyenv's sentinels. Vault
// answers Transit's user errors with 400 and tells them apart by message:
// "encryption key not found" (no such key, or it was deleted),
// "disallowed by policy" (the ciphertext's key version is below the key's
// min_decryption_version: the version is disabled), and a ciphertext
// that does not authenticate or names a version the key does not have
// (another key's).
func (k *transitKey) classify(op string, err error) error {
	wrap := func(sentinel error, why string) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %w", k.ID(), sentinel, op, why, responseError{err})
	}
	status := statusOf(err)
	var re *vault.ResponseError
	if errors.As(err, &re) {
		msg := strings.ToLower(strings.Join(re.Errors, " "))
		switch {
		case status == 400 && strings.Contains(msg, "encryption key not found"):
			return wrap(keyenv.ErrKMSKeyNotFound, "no such Transit key")
		case status == 400 && strings.Contains(msg, "disallowed by policy"):
			return wrap(keyenv.ErrKMSKeyDisabled, "the key version that sealed this blob is below min_decryption_version")
		case status == 400 && (strings.Contains(msg, "message authentication failed") || strings.Contains(msg, "invalid key version") ||
			strings.Contains(msg, "invalid ciphertext")):
			return wrap(keyenv.ErrWrongMasterKey, "the data key was not sealed by this Transit key")
		case status == 401 || status == 403:
			return wrap(keyenv.ErrKMSAccessDenied, "the token is invalid, expired or lacks permission on the key")
		case status == 404:
			return wrap(keyenv.ErrKMSKeyNotFound, "no Transit engine at mount "+k.s.Mount)
		case status == 429 || status >= 500:
			return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("after %d attempts", k.opts.KMSAttempts))
		}
		return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, responseError{err})
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return fmt.Errorf("keyenv: %s: %w: %s: Vault's TLS certificate is not trusted (ca-file, tls-server-name): %w", k.ID(), keyenv.ErrKMSUnreachable, op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return wrap(keyenv.ErrKMSUnreachable, "timed out")
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("network error after %d attempts", k.opts.KMSAttempts))
	}
	return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, err)
}
