package keyenv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Every backend built on the envelope counts its seals and unseals, times
// them and classifies its errors, under its kind and ID, with no code of
// its own.
func TestCallStatsCount(t *testing.T) {
	ctx := context.Background()
	file, _ := newFileBackend(t)
	ring, _, _ := newKeyringBackend(t, "tikv")
	other, _ := newFileBackend(t)
	for _, b := range []Backend{file, ring} {
		t.Run(b.Kind().String(), func(t *testing.T) {
			if _, ok := CallStatsOf(b.Kind(), b.ID()); !ok {
				t.Fatal("no statistics for an open backend")
			}
			before, _ := CallStatsOf(b.Kind(), b.ID())
			blob := mustSeal(t, b, "key-dictionary", []byte("dict"))
			mustSeal(t, b, "key-dictionary", []byte("dict"))
			mustUnseal(t, b, "key-dictionary", blob, []byte("dict"))
			tampered := append([]byte{}, blob...)
			tampered[len(tampered)-1] ^= 1
			for _, bad := range [][]byte{tampered, mustSeal(t, other, "key-dictionary", []byte("x"))} {
				if _, err := b.Unseal(ctx, "key-dictionary", bad); err == nil {
					t.Fatal("a bad blob opened")
				}
			}
			if _, err := b.Unseal(ctx, "transfer-key", blob); !errors.Is(err, ErrWrongLabel) {
				t.Fatal(err)
			}
			if _, err := b.Seal(ctx, "bad label", []byte("x")); err == nil {
				t.Fatal("a label with a space was accepted")
			}
			after, _ := CallStatsOf(b.Kind(), b.ID())
			if after.Kind != b.Kind() || after.ID != b.ID() {
				t.Fatalf("statistics of %s %q", after.Kind, after.ID)
			}
			delta := func(op string, a, b OpStats) OpStats {
				d := OpStats{Calls: a.Calls - b.Calls, Total: a.Total - b.Total, Errors: map[ErrorClass]uint64{}}
				for _, c := range ErrorClasses {
					if n := a.Errors[c] - b.Errors[c]; n > 0 {
						d.Errors[c] = n
					}
				}
				if len(a.Buckets) != len(CallLatencyBuckets) {
					t.Fatalf("%s: %d buckets", op, len(a.Buckets))
				}
				last := a.Buckets[len(a.Buckets)-1] - b.Buckets[len(b.Buckets)-1]
				if last != d.Calls {
					t.Errorf("%s: %d calls within %v, want all %d", op, last, CallLatencyBuckets[len(CallLatencyBuckets)-1], d.Calls)
				}
				for i := 1; i < len(a.Buckets); i++ {
					if a.Buckets[i] < a.Buckets[i-1] {
						t.Errorf("%s: buckets not cumulative: %v", op, a.Buckets)
					}
				}
				return d
			}
			seal := delta("seal", after.Seal, before.Seal)
			unseal := delta("unseal", after.Unseal, before.Unseal)
			if seal.Calls != 3 || fmt.Sprint(seal.Errors) != "map[other:1]" {
				t.Errorf("seal: %d calls, errors %v; want 3 and one other", seal.Calls, seal.Errors)
			}
			if unseal.Calls != 4 || fmt.Sprint(unseal.Errors) != "map[corrupt_blob:1 wrong_label:1 wrong_master_key:1]" {
				t.Errorf("unseal: %d calls, errors %v", unseal.Calls, unseal.Errors)
			}
			if seal.Total <= 0 || unseal.Total <= 0 {
				t.Errorf("no time counted: seal %v unseal %v", seal.Total, unseal.Total)
			}
		})
	}
	// Sorted by kind, then ID, and every backend above is listed.
	all := CallStats()
	seen := map[string]bool{}
	for i, s := range all {
		seen[s.ID] = true
		if i > 0 && (all[i-1].Kind > s.Kind || all[i-1].Kind == s.Kind && all[i-1].ID >= s.ID) {
			t.Fatalf("CallStats not ordered at %d", i)
		}
	}
	for _, b := range []Backend{file, ring, other} {
		if !seen[b.ID()] {
			t.Errorf("%s missing from CallStats", b.ID())
		}
	}
}

func TestClassifyError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want ErrorClass
	}{
		{nil, ""},
		{fmt.Errorf("x: %w", ErrKMSUnreachable), ClassUnreachable},
		{fmt.Errorf("x: %w: %w", ErrResealFailed, ErrKMSUnreachable), ClassUnreachable},
		{ErrKMSKeyNotFound, ClassKeyNotFound},
		{ErrKeyringKeyNotFound, ClassKeyNotFound},
		{ErrKMSKeyDisabled, ClassKeyDisabled},
		{ErrKMSAccessDenied, ClassAccessDenied},
		{fmt.Errorf("%w: %w", ErrWrongMasterKey, ErrWrongBackend), ClassWrongMasterKey},
		{ErrWrongLabel, ClassWrongLabel},
		{ErrCorruptBlob, ClassCorruptBlob},
		{ErrUnknownVersion, ClassCorruptBlob},
		{context.Canceled, ClassOther},
		{errClosed, ClassOther},
	} {
		if got := ClassifyError(tt.err); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

// A slow key service shows in the latency buckets.
func TestCallStatsLatency(t *testing.T) {
	c := &backendCalls{kind: KindKMS, id: "test"}
	c.record(opSeal, 50*time.Microsecond, nil)
	c.record(opSeal, 3*time.Second, ErrKMSUnreachable)
	c.record(opSeal, time.Minute, ErrKMSUnreachable)
	s := c.snapshot().Seal
	want := []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2}
	if fmt.Sprint(s.Buckets) != fmt.Sprint(want) || s.Calls != 3 || s.Errors[ClassUnreachable] != 2 {
		t.Fatalf("%+v", s)
	}
	if u := c.snapshot().Unseal; u.Calls != 0 || len(u.Buckets) != len(CallLatencyBuckets) {
		t.Fatalf("unseal %+v", u)
	}
}
