package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	kmipgo "github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/atrest/atrest/keyenv"
)

// call sends one operation and returns its successful batch item, or an
// error wrapping keyenv's sentinels. Connecting and sending are retried:
// each attempt tries every endpoint in turn (starting with the one that
// answered last), attempts are spaced by a jittered exponential backoff,
// and the whole call is bounded by KMSTimeout. What the server answers
// is not retried.
func (k *kmipKey) call(ctx context.Context, op string, req kmipgo.OperationPayload) (*kmipgo.ResponseBatchItem, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSTimeout)
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < k.opts.KMSAttempts; attempt++ {
		if attempt > 0 && !sleep(ctx, k.backoff(attempt)) {
			break
		}
		for range k.s.Endpoints {
			item, err := k.roundTrip(ctx, req)
			if err == nil {
				return k.result(ctx, op, item)
			}
			if refused := k.tlsRefusal(op, err); refused != nil {
				return nil, refused
			}
			lastErr = err
			k.endpoint = (k.endpoint + 1) % len(k.s.Endpoints)
		}
	}
	why := "network error"
	if errors.Is(lastErr, context.DeadlineExceeded) || ctx.Err() != nil {
		why = "timed out"
	}
	return nil, fmt.Errorf("keyenv: %s: %w: %s: %s after %d attempts over %d endpoints: %w",
		k.ID(), keyenv.ErrKMSUnreachable, op, why, k.opts.KMSAttempts, len(k.s.Endpoints), lastErr)
}

// roundTrip sends req to the current endpoint, connecting first when
// needed, within KMSAttemptTimeout. A failed connection is dropped.
func (k *kmipKey) roundTrip(ctx context.Context, req kmipgo.OperationPayload) (*kmipgo.ResponseBatchItem, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.KMSAttemptTimeout)
	defer cancel()
	if k.client == nil {
		ep := k.s.Endpoints[k.endpoint]
		cfg := k.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(ep)
		}
		c, err := kmipclient.DialContext(ctx, ep, kmipclient.WithTlsConfig(cfg))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep, err)
		}
		k.client = c
	}
	res, err := k.client.Batch(ctx, req)
	if err == nil && len(res) != 1 {
		err = fmt.Errorf("%d batch items in the answer to one request", len(res))
	}
	if err != nil {
		ep := k.s.Endpoints[k.endpoint]
		k.drop()
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	return &res[0], nil
}

// drop closes the connection; the next call connects again.
func (k *kmipKey) drop() {
	if k.client != nil {
		k.client.Close()
		k.client = nil
	}
}

func (k *kmipKey) backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt-1, 8)
	if limit := k.opts.KMSMaxBackoff; limit > 0 && d > limit {
		d = limit
	} else if d > 2*time.Second {
		d = 2 * time.Second
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tlsRefusal classifies TLS failures, which retrying does not cure: the
// server refusing our client certificate (a TLS alert from the server) is
// access denied, a server certificate we do not trust makes the server
// unusable. Other errors give nil.
func (k *kmipKey) tlsRefusal(op string, err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return fmt.Errorf("keyenv: %s: %w: %s: the server refused the TLS client certificate: %w", k.ID(), keyenv.ErrKMSAccessDenied, op, err)
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return fmt.Errorf("keyenv: %s: %w: %s: the server's TLS certificate is not trusted (ca-file, server-name): %w", k.ID(), keyenv.ErrKMSUnreachable, op, err)
	}
	return nil
}

// result maps the server's answer to keyenv's sentinels. KMIP says
// Permission Denied both for a key this client may not use and for a key
// not in the Active state; the key's State attribute tells them apart.
func (k *kmipKey) result(ctx context.Context, op string, item *kmipgo.ResponseBatchItem) (*kmipgo.ResponseBatchItem, error) {
	if item.ResultStatus == kmipgo.ResultStatusSuccess {
		return item, nil
	}
	wrap := func(sentinel error, why string) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %s (%s)", k.ID(), sentinel, op, why, ttlv.EnumStr(item.ResultReason), item.ResultMessage)
	}
	switch item.ResultReason {
	case kmipgo.ResultReasonItemNotFound:
		return nil, wrap(keyenv.ErrKMSKeyNotFound, "no such key")
	case kmipgo.ResultReasonPermissionDenied:
		if state, ok := k.state(ctx); ok && state != kmipgo.StateActive {
			return nil, wrap(keyenv.ErrKMSKeyDisabled, "the key is "+ttlv.EnumStr(state)+", not Active")
		}
		return nil, wrap(keyenv.ErrKMSAccessDenied, "this client may not use the key")
	case kmipgo.ResultReasonAuthenticationNotSuccessful:
		return nil, wrap(keyenv.ErrKMSAccessDenied, "the server did not accept the client certificate")
	case kmipgo.ResultReasonCryptographicFailure, kmipgo.ResultReasonGeneralFailure:
		if op == "Decrypt" {
			return nil, wrap(keyenv.ErrWrongMasterKey, "the server cannot decrypt the data key with this key")
		}
	}
	return nil, fmt.Errorf("keyenv: %s: %s: the server refused: %s (%s)", k.ID(), op, ttlv.EnumStr(item.ResultReason), item.ResultMessage)
}

// state asks the server for the key's State attribute; ok is false when
// it does not say.
func (k *kmipKey) state(ctx context.Context) (kmipgo.State, bool) {
	item, err := k.roundTrip(ctx, &payloads.GetAttributesRequestPayload{UniqueIdentifier: k.s.KeyID,
		AttributeName: []kmipgo.AttributeName{kmipgo.AttributeNameState}})
	if err != nil || item.ResultStatus != kmipgo.ResultStatusSuccess {
		return 0, false
	}
	out, ok := item.ResponsePayload.(*payloads.GetAttributesResponsePayload)
	if !ok {
		return 0, false
	}
	for _, a := range out.Attribute {
		if s, ok := a.AttributeValue.(kmipgo.State); ok && a.AttributeName == kmipgo.AttributeNameState {
			return s, true
		}
	}
	return 0, false
}
