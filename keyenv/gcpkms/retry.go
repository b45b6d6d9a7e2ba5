package gcpkms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/atrest/atrest/keyenv"
)

// retriedCodes are the answers worth another attempt: the service is
// down or overloaded, or an attempt ran out of time.
var retriedCodes = []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal}

// Backoff between attempts: jittered, growing from initialBackoff by
// backoffMultiplier up to KMSMaxBackoff (defaultMaxBackoff when unset).
const (
	initialBackoff    = 100 * time.Millisecond
	backoffMultiplier = 2
	defaultMaxBackoff = 20 * time.Second
)

// callOptions replace the client's default retry settings (which retry
// until a 60 s timeout) with keyenv's bounds: the whole call's timeout and
// at most KMSAttempts attempts.
func callOptions(o keyenv.Settings) []gax.CallOption {
	bo := gax.Backoff{Initial: initialBackoff, Max: defaultMaxBackoff, Multiplier: backoffMultiplier}
	if o.KMSMaxBackoff > 0 {
		bo.Max = o.KMSMaxBackoff
		bo.Initial = min(bo.Initial, o.KMSMaxBackoff)
	}
	attempts := o.KMSAttempts
	return []gax.CallOption{
		gax.WithTimeout(o.KMSTimeout),
		gax.WithRetry(func() gax.Retryer { return &boundedRetryer{backoff: bo, left: attempts - 1} }),
	}
}

// boundedRetryer retries the codes in retriedCodes, at most left times.
// gax's own retryers retry until the call's timeout.
type boundedRetryer struct {
	backoff gax.Backoff
	left    int
}

func (r *boundedRetryer) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	code := status.Code(err)
	for _, c := range retriedCodes {
		if code == c {
			r.left--
			return r.backoff.Pause(), true
		}
	}
	return 0, false
}

// attemptTimeout bounds each attempt (each gRPC call gax makes) to d.
func attemptTimeout(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// classify maps a client error to keyenv's sentinels, keeping the client's
// error in the chain for detail. Cloud KMS answers an unknown key with
// NotFound, or with PermissionDenied when the caller may not even see
// whether it exists; a disabled or destroyed key version with
// FailedPrecondition; a ciphertext of another key (or another AAD) with
// InvalidArgument "Decryption failed".
func (k *gcpKey) classify(op string, err error) error {
	wrap := func(sentinel error, why string) error {
		return fmt.Errorf("keyenv: %s: %w: %s: %s: %w", k.ID(), sentinel, op, why, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return wrap(keyenv.ErrKMSUnreachable, "timed out")
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, err)
	}
	switch st.Code() {
	case codes.InvalidArgument:
		if op == "Decrypt" && strings.Contains(st.Message(), "Decryption failed") {
			return wrap(keyenv.ErrWrongMasterKey, "Cloud KMS cannot decrypt the data key with this key")
		}
	case codes.NotFound:
		return wrap(keyenv.ErrKMSKeyNotFound, "no such key")
	case codes.FailedPrecondition:
		return wrap(keyenv.ErrKMSKeyDisabled, "the key's version is not enabled (disabled, destroyed or scheduled for destruction)")
	case codes.PermissionDenied:
		return wrap(keyenv.ErrKMSAccessDenied, "permission denied (or the key does not exist)")
	case codes.Unauthenticated:
		return wrap(keyenv.ErrKMSAccessDenied, "the credentials were refused")
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal:
		return wrap(keyenv.ErrKMSUnreachable, fmt.Sprintf("%s after %d attempts", st.Code(), k.opts.KMSAttempts))
	}
	return fmt.Errorf("keyenv: %s: %s: %w", k.ID(), op, err)
}
