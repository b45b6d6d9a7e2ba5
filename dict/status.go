package dict

import (
	"context"
	"sync"
	"time"

	"github.com/atrest/atrest/keyenv"
)

// This file holds the state the Manager keeps for operators: master-key
// backend calls, master-key rotations and re-encryption progress. Stats
// (stats.go) reads it; the operations that change it update it.

// BackendStats counts the calls to the master key's backend (Seal and
// Unseal of the key dictionary), for metrics: a KMS that slows down or
// fails shows here before it stops a start.
type BackendStats struct {
	// Kind and ID name the current master key's backend.
	Kind keyenv.Kind
	ID   string
	// Calls and Errors count Seal and Unseal calls, and the failed ones.
	Calls, Errors uint64
	// Total is the time all calls took; Last the time of the last one.
	Total, Last time.Duration
}

// backendStats is the live BackendStats, shared by every backend the
// Manager wraps (current and previous).
type backendStats struct {
	mu sync.Mutex
	s  BackendStats
}

func (b *backendStats) record(d time.Duration, err error) {
	b.mu.Lock()
	b.s.Calls++
	if err != nil {
		b.s.Errors++
	}
	b.s.Total += d
	b.s.Last = d
	b.mu.Unlock()
}

func (b *backendStats) snapshot() BackendStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

// instrumented times a backend's Seal and Unseal calls into stats.
type instrumented struct {
	keyenv.Backend
	stats *backendStats
}

func (b instrumented) Seal(ctx context.Context, label string, secret []byte) ([]byte, error) {
	start := time.Now()
	blob, err := b.Backend.Seal(ctx, label, secret)
	b.stats.record(time.Since(start), err)
	return blob, err
}

func (b instrumented) Unseal(ctx context.Context, label string, blob []byte) (*keyenv.Secret, error) {
	start := time.Now()
	s, err := b.Backend.Unseal(ctx, label, blob)
	b.stats.record(time.Since(start), err)
	return s, err
}

// instrument returns master keys whose backends record their calls into
// stats, leaving mk itself alone (it may be the caller's). Closing the
// result closes mk's backends.
func instrument(mk *keyenv.MasterKeys, stats *backendStats) *keyenv.MasterKeys {
	out := &keyenv.MasterKeys{Current: instrumented{mk.Current, stats}}
	if mk.Previous != nil {
		out.Previous = instrumented{mk.Previous, stats}
	}
	stats.name(mk.Current)
	return out
}

// name records which backend is the current master key.
func (b *backendStats) name(current keyenv.Backend) {
	b.mu.Lock()
	b.s.Kind, b.s.ID = current.Kind(), current.ID()
	b.mu.Unlock()
}

// RotationStats describes the master-key rotations of this Manager.
type RotationStats struct {
	// MasterKeyRotations counts completed master-key rotations
	// (Maintenance.ReplaceMasterKey, which operator.RotateMasterKey
	// calls).
	MasterKeyRotations uint64
	// LastMasterKeyRotation is when the last one completed (zero if none).
	LastMasterKeyRotation time.Time
	// DataKeyRotations counts new current data keys made since Open.
	DataKeyRotations uint64
}

// ReencryptProgress is where a re-encryption run stands.
type ReencryptProgress struct {
	// Running is true while a re-encryption run (operator.ReencryptAll)
	// works.
	Running bool
	// FilesDone and FilesTotal count the files selected for this run;
	// BytesDone and BytesTotal their sizes.
	FilesDone, FilesTotal int
	BytesDone, BytesTotal int64
	// Started is when the run began; Remaining estimates the time left
	// at the rate so far (0 when unknown).
	Started   time.Time
	Remaining time.Duration
	// Current is the file being re-encrypted ("" between files).
	Current string
	// Failed counts files that could not be re-encrypted this run.
	Failed int
}

// operatorState is the Manager's record of the above.
type operatorState struct {
	backend backendStats

	mu        sync.Mutex
	rotations RotationStats
	// reenc.Running is also what keeps re-encryption runs to one at a time
	// (startReencrypt): the only record of a run under way.
	reenc ReencryptProgress
}

func (o *operatorState) rotationStats() RotationStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rotations
}

func (o *operatorState) reencryptProgress() ReencryptProgress {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reenc
}

// startReencrypt starts a run's progress afresh, unless a run is under
// way: false then.
func (o *operatorState) startReencrypt(started time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reenc.Running {
		return false
	}
	o.reenc = ReencryptProgress{Running: true, Started: started}
	return true
}

// setReencrypt changes the re-encryption progress under the lock (f nil:
// no change) and returns it.
func (o *operatorState) setReencrypt(f func(p *ReencryptProgress)) ReencryptProgress {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f != nil {
		f(&o.reenc)
	}
	return o.reenc
}
