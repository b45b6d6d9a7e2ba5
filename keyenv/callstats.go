package keyenv

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrorClass is the kind of failure of a master-key call, by the sentinel
// its error wraps: the error label of the per-backend metrics.
type ErrorClass string

// The error classes, from ClassifyError.
const (
	ClassUnreachable    ErrorClass = "unreachable"      // ErrKMSUnreachable
	ClassKeyNotFound    ErrorClass = "key_not_found"    // ErrKMSKeyNotFound, ErrKeyringKeyNotFound
	ClassKeyDisabled    ErrorClass = "key_disabled"     // ErrKMSKeyDisabled
	ClassAccessDenied   ErrorClass = "access_denied"    // ErrKMSAccessDenied
	ClassWrongMasterKey ErrorClass = "wrong_master_key" // ErrWrongMasterKey
	ClassWrongLabel     ErrorClass = "wrong_label"      // ErrWrongLabel
	ClassCorruptBlob    ErrorClass = "corrupt_blob"     // ErrCorruptBlob, ErrUnknownVersion
	ClassOther          ErrorClass = "other"            // anything else (a closed backend, a cancelled context)
)

// ErrorClasses lists every class ClassifyError returns, in a fixed order.
var ErrorClasses = []ErrorClass{ClassUnreachable, ClassKeyNotFound, ClassKeyDisabled, ClassAccessDenied,
	ClassWrongMasterKey, ClassWrongLabel, ClassCorruptBlob, ClassOther}

// ClassifyError returns the class of a master-key call's error by the
// sentinel it wraps; "" for nil. The key-service classes come first: an
// unreachable KMS is that, whatever else the error says.
func ClassifyError(err error) ErrorClass {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrKMSUnreachable):
		return ClassUnreachable
	case errors.Is(err, ErrKMSKeyNotFound), errors.Is(err, ErrKeyringKeyNotFound):
		return ClassKeyNotFound
	case errors.Is(err, ErrKMSKeyDisabled):
		return ClassKeyDisabled
	case errors.Is(err, ErrKMSAccessDenied):
		return ClassAccessDenied
	case errors.Is(err, ErrWrongMasterKey):
		return ClassWrongMasterKey
	case errors.Is(err, ErrWrongLabel):
		return ClassWrongLabel
	case errors.Is(err, ErrCorruptBlob), errors.Is(err, ErrUnknownVersion):
		return ClassCorruptBlob
	}
	return ClassOther
}

// CallLatencyBuckets are the upper bounds of the latency histogram of
// OpStats.Buckets: from a local key file's microseconds to a KMS call
// that used up its retries.
var CallLatencyBuckets = []time.Duration{
	100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second,
}

// OpStats counts one operation (seal or unseal) of one master key.
type OpStats struct {
	// Calls counts the calls; Errors the failed ones by class.
	Calls  uint64
	Errors map[ErrorClass]uint64
	// Total is the time all calls took.
	Total time.Duration
	// Buckets[i] counts the calls that took at most
	// CallLatencyBuckets[i] (cumulative, as Prometheus histograms are);
	// the calls slower than the last bound are Calls minus the last.
	Buckets []uint64
}

// BackendCallStats is what the envelope (NewEnvelope) counted for one
// master key, named by its backend kind and ID, since the process started:
// every backend built on a KeySource gets it without code of its own.
type BackendCallStats struct {
	Kind         Kind
	ID           string
	Seal, Unseal OpStats
}

// Operations, as indexes into backendCalls.ops.
const (
	opSeal = iota
	opUnseal
)

// backendCalls is the live BackendCallStats of one master key.
type backendCalls struct {
	kind Kind
	id   string
	mu   sync.Mutex
	ops  [2]OpStats
}

// callKey names a master key in the call statistics.
type callKey struct {
	kind Kind
	id   string
}

var (
	callStatsMu sync.Mutex
	callStats   = map[callKey]*backendCalls{}
)

// callStatsFor returns the statistics of the master key kind and id,
// shared by every backend opened for it in this process, so a key closed
// and opened again (a restarted Manager) keeps counting.
func callStatsFor(kind Kind, id string) *backendCalls {
	callStatsMu.Lock()
	defer callStatsMu.Unlock()
	k := callKey{kind, id}
	if c := callStats[k]; c != nil {
		return c
	}
	c := &backendCalls{kind: kind, id: id}
	callStats[k] = c
	return c
}

func (c *backendCalls) record(op int, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.ops[op]
	s.Calls++
	s.Total += d
	if err != nil {
		if s.Errors == nil {
			s.Errors = make(map[ErrorClass]uint64)
		}
		s.Errors[ClassifyError(err)]++
	}
	if s.Buckets == nil {
		s.Buckets = make([]uint64, len(CallLatencyBuckets))
	}
	for i, bound := range CallLatencyBuckets {
		if d <= bound {
			s.Buckets[i]++
		}
	}
}

func (c *backendCalls) snapshot() BackendCallStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := BackendCallStats{Kind: c.kind, ID: c.id}
	for i, dst := range []*OpStats{&out.Seal, &out.Unseal} {
		src := c.ops[i]
		*dst = OpStats{Calls: src.Calls, Total: src.Total, Buckets: slices.Clone(src.Buckets)}
		if dst.Buckets == nil {
			dst.Buckets = make([]uint64, len(CallLatencyBuckets))
		}
		if len(src.Errors) > 0 {
			dst.Errors = make(map[ErrorClass]uint64, len(src.Errors))
			for k, v := range src.Errors {
				dst.Errors[k] = v
			}
		}
	}
	return out
}

// CallStats returns the call statistics of every master key this process
// opened through NewEnvelope (file, keyring, KMS and every other backend
// built on a KeySource), ordered by kind and ID. dict/metrics exports
// them.
func CallStats() []BackendCallStats {
	callStatsMu.Lock()
	all := make([]*backendCalls, 0, len(callStats))
	for _, c := range callStats {
		all = append(all, c)
	}
	callStatsMu.Unlock()
	out := make([]BackendCallStats, len(all))
	for i, c := range all {
		out[i] = c.snapshot()
	}
	slices.SortFunc(out, func(a, b BackendCallStats) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// CallStatsOf returns the call statistics of the master key of kind and
// id, and whether this process opened it.
func CallStatsOf(kind Kind, id string) (BackendCallStats, bool) {
	callStatsMu.Lock()
	c := callStats[callKey{kind, id}]
	callStatsMu.Unlock()
	if c == nil {
		return BackendCallStats{}, false
	}
	return c.snapshot(), true
}
