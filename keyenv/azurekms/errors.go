package azurekms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/atrest/atrest/keyenv"
)

// defaultRetryDelay is the SDK's first wait between attempts.
const defaultRetryDelay = 800 * time.Millisecond

// retryOptions are keyenv's bounds in the SDK's terms: KMSAttempts tries
// of at most KMSAttemptTimeout each, waits capped by KMSMaxBackoff; the
// SDK retries 408, 429, 500, 502, 503, 504 and network errors.
func retryOptions(o keyenv.Settings) policy.RetryOptions {
	r := policy.RetryOptions{MaxRetries: int32(o.KMSAttempts - 1), TryTimeout: o.KMSAttemptTimeout}
	if r.MaxRetries == 0 {
		r.MaxRetries = -1 // the SDK's "no retries"; 0 would mean its default of 3
	}
	if o.KMSMaxBackoff > 0 {
		r.MaxRetryDelay = o.KMSMaxBackoff
		r.RetryDelay = min(defaultRetryDelay, o.KMSMaxBackoff)
	}
	return r
}

// vaultError is the error body Key Vault answers.
type vaultError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

// briefError shows a short message for an SDK error, whose own message
// spans many lines (the whole response); errors.As still finds the SDK's
// error.
type briefError struct {
	msg string
	err error
}

func (b briefError) Error() string { return b.msg }
func (b briefError) Unwrap() error { return b.err }

// classify maps an SDK error to keyenv's sentinels. Key Vault answers an
// unknown key or version with 404 KeyNotFound; a disabled key with 403
// Forbidden and inner error KeyDisabled; a missing permission with 403
// Forbidden; a bad token with 401; a wrapped key the key cannot unwrap
// with 400 BadParameter. Entra ID refusing the credentials is an
// azidentity.AuthenticationFailedError.
func (k *azureKey) classify(op string, err error) error {
	wrap := func(sentinel error, why string, detail error) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %w", k.ID(), sentinel, op, why, detail)
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		if authErr.RawResponse == nil {
			// No answer from Entra ID. The SDK keeps only the text of the
			// underlying error, so the text tells a network failure.
			msg := strings.Join(strings.Fields(err.Error()), " ") // on one line
			if i := strings.Index(msg, " To troubleshoot, visit"); i >= 0 {
				msg = msg[:i]
			}
			if transportFailure(msg) {
				return wrap(keyenv.ErrKMSUnreachable, "cannot reach Entra ID for a token", briefError{msg, err})
			}
			return wrap(keyenv.ErrKMSAccessDenied, "cannot get a token", briefError{msg, err})
		}
		detail := fmt.Sprintf("Entra ID answered %s", authErr.RawResponse.Status)
		if code := entraCode(authErr.RawResponse); code != "" {
			detail += " (" + code + ")"
		}
		if authErr.RawResponse.StatusCode == http.StatusTooManyRequests || authErr.RawResponse.StatusCode >= 500 {
			return wrap(keyenv.ErrKMSUnreachable, "cannot get a token", briefError{detail, err})
		}
		return wrap(keyenv.ErrKMSAccessDenied, "cannot get a token", briefError{detail, err})
	}
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		var body vaultError
		if payload, perr := runtime.Payload(respErr.RawResponse); perr == nil {
			_ = json.Unmarshal(payload, &body)
		}
		e := body.Error
		detail := fmt.Sprintf("HTTP %d %s", respErr.StatusCode, respErr.ErrorCode)
		if e.InnerError.Code != "" {
			detail += " (" + e.InnerError.Code + ")"
		}
		if e.Message != "" {
			detail += ": " + e.Message
		}
		brief := briefError{detail, err}
		status := respErr.StatusCode
		switch {
		case status == http.StatusNotFound:
			return wrap(keyenv.ErrKMSKeyNotFound, "no such key or key version", brief)
		case e.InnerError.Code == "KeyDisabled" || strings.Contains(strings.ToLower(e.Message), "disabled key"):
			return wrap(keyenv.ErrKMSKeyDisabled, "the key is disabled", brief)
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return wrap(keyenv.ErrKMSAccessDenied, "permission denied", brief)
		case status == http.StatusBadRequest && op == "UnwrapKey":
			return wrap(keyenv.ErrWrongMasterKey, "Key Vault cannot unwrap the data key with this key", brief)
		case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
			return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("after %d attempts", k.opts.KMSAttempts), brief)
		}
		return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, brief)
	}
	var credErr interface{ NonRetriable() } // azidentity's credentialUnavailableError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return wrap(keyenv.ErrKMSUnreachable, "timed out", err)
	case errors.As(err, &netErr):
		return wrap(keyenv.ErrKMSUnreachable, "network error", err)
	case errors.As(err, &credErr) && strings.Contains(err.Error(), "Credential"):
		return wrap(keyenv.ErrKMSAccessDenied, "the credential cannot get a token", err)
	}
	return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, err)
}

// transportFailures are what the text of a network failure says.
var transportFailures = []string{"dial tcp", "connection refused", "connection reset", "no such host",
	"i/o timeout", "deadline exceeded", "tls: ", "EOF", "network is unreachable", "Client.Timeout"}

// transportFailure reports whether msg tells of a network failure.
func transportFailure(msg string) bool {
	for _, f := range transportFailures {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// entraCode is the AADSTS code of an Entra ID error answer, if any.
func entraCode(resp *http.Response) string {
	payload, err := runtime.Payload(resp)
	if err != nil {
		return ""
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(payload, &body) != nil {
		return ""
	}
	code, _, _ := strings.Cut(body.Description, ":")
	if !strings.HasPrefix(code, "AADSTS") {
		return body.Error
	}
	return body.Error + ", " + code
}
