package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/bench/stats"
)

// SchemaVersion is the version of the JSON document Result encodes to. It
// changes when a field changes meaning or goes away; fields may be added
// without a change. Version 2 added the file and engine workloads' wall
// and CPU time per operation (Overhead, Expected, the control and peer
// figures); a version 1 document reads as it is.
const SchemaVersion = 2

// oldestSchema is the oldest version ReadResult reads.
const oldestSchema = 1

// ErrSchema is returned (wrapped) by ReadResult for a document that is not
// an encbench result of a version this build reads.
var ErrSchema = errors.New("not an encbench result of a supported schema version")

// Result is everything one encbench run measured, and how.
type Result struct {
	// Schema is SchemaVersion when written.
	Schema int `json:"schema"`
	// Started is when the run began; Elapsed how long it took.
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Host is the machine the run measured.
	Host Host `json:"host"`
	// Options are the settings of the run.
	Options Options `json:"options"`
	// Figures are the measurements, in the order they were taken.
	Figures []Figure `json:"figures"`
}

// Host describes the machine and the kernels the run used.
type Host struct {
	Hostname  string `json:"hostname"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	GoVersion string `json:"go_version"`
	// CPU is the processor's brand string.
	CPU string `json:"cpu"`
	// LogicalCores is the number of logical CPUs the OS offers.
	LogicalCores int `json:"logical_cores"`
	// Features are the CPU features that matter to the kernels, in a
	// fixed order, present ones only: "AES-NI", "AVX2", "AVX-512", "VAES",
	// "VPCLMULQDQ", "GFNI", "ARMv8-AES", "ARMv8-SM4".
	Features []string `json:"features"`
	// ClockHz is the core clock calibrated at the start of the run (0 if
	// this architecture has no calibration loop).
	ClockHz float64 `json:"clock_hz"`
	// ClockReadNs is what reading the time costs, measured at the start
	// of the run: the random-read latencies have it taken off.
	ClockReadNs float64 `json:"clock_read_ns"`
	// Kernels maps each method's name to the kernel that ran it.
	Kernels map[string]string `json:"kernels"`
}

// Options are the settings a run was made with.
type Options struct {
	Methods   []string `json:"methods"`
	Sizes     []int    `json:"sizes"`
	Workloads []string `json:"workloads"`
	// Rounds is how many times each figure was measured.
	Rounds int `json:"rounds"`
	// Duration is the time given to one round of one figure.
	Duration time.Duration `json:"duration_ns"`
	// Threads is the largest thread count of the parallel scaling.
	Threads int `json:"threads"`
	// Slice, SliceRounds, SliceRoundsMax and SliceBudget are how the
	// file and engine workloads were measured (see Config).
	Slice          time.Duration `json:"slice_ns,omitempty"`
	SliceRounds    int           `json:"slice_rounds,omitempty"`
	SliceRoundsMax int           `json:"slice_rounds_max,omitempty"`
	SliceBudget    time.Duration `json:"slice_budget_ns,omitempty"`
	// Preset is "quick", "full" or "" (the defaults or flags alone).
	Preset string `json:"preset,omitempty"`
	// Confidence and MaxSpread are what Summarize was given.
	Confidence float64 `json:"confidence"`
	MaxSpread  float64 `json:"max_spread"`
}

// Unit is the unit of a figure's samples.
type Unit string

// The units of figures. MB is 10^6 bytes.
const (
	MBPerSecond  Unit = "MB/s"  // throughput: higher is better
	OpsPerSecond Unit = "ops/s" // operations per second: higher is better
	Nanoseconds  Unit = "ns"    // a latency: lower is better
	// NsPerOp is a cost per operation, in wall or CPU nanoseconds (see
	// Figure.Metric): lower is better.
	NsPerOp Unit = "ns/op"
	// SpeedRatio is the unit of a comparison's per-round ratios
	// (Versus.Speed): higher is better.
	SpeedRatio Unit = "×"
)

// HigherIsBetter reports whether a larger value of u is an improvement:
// true for rates and ratios, false for latencies and unknown units.
func (u Unit) HigherIsBetter() bool {
	switch u {
	case MBPerSecond, OpsPerSecond, SpeedRatio:
		return true
	}
	return false
}

// Impl names who computed a figure: atrest, or a baseline library.
const (
	ImplAtrest       = "atrest"
	ImplCryptoCipher = "crypto/cipher"
	ImplGMSM         = "gmsm"
	// ImplPeer is encryption the common Go way (package bench/peer): a
	// crypto/cipher or gmsm stream made at the offset for every call.
	ImplPeer = peer.Name
	// ImplControl is a second plaintext arm measured against the first:
	// the noise floor of the run.
	ImplControl = "control"
)

// The metrics of the file and engine workloads: time per operation, by
// the wall clock and by the process's CPU time (user and system, every
// thread).
const (
	MetricWall = "wall"
	MetricCPU  = "cpu"
)

// Figure is one measured quantity: its samples (one per round), their
// summary and, where there is a baseline, how it compares.
type Figure struct {
	// Workload names what was measured; see the Workload constants.
	Workload string `json:"workload"`
	// Method is the encryption method's name ("plaintext", "aes128-ctr",
	// ..., "sm4-ctr").
	Method string `json:"method"`
	// Impl is ImplAtrest or the baseline library measured.
	Impl string `json:"impl"`
	// Kernel is atrest's kernel for the method ("" for a baseline).
	Kernel string `json:"kernel,omitempty"`
	// Size is the buffer or block size in bytes, where there is one.
	Size int `json:"size,omitempty"`
	// Threads is the number of threads the figure ran on (parallel
	// scaling only; 0 elsewhere).
	Threads int `json:"threads,omitempty"`
	// Metric says which statistic of a round the samples are:
	// "throughput", "p50", "p99", or MetricWall or MetricCPU.
	Metric string `json:"metric"`
	// Unit is the samples' unit.
	Unit Unit `json:"unit"`
	// Samples holds one value per round.
	Samples []float64 `json:"samples"`
	// Summary is stats.Summarize of Samples.
	Summary stats.Summary `json:"summary"`
	// CyclesPerByte is the median's cost in core cycles per byte at
	// Host.ClockHz (raw streams only; 0 when unknown).
	CyclesPerByte float64 `json:"cycles_per_byte,omitempty"`
	// Versus compares the figure with its baseline, if it has one.
	Versus *Versus `json:"versus,omitempty"`
	// Expected is the cipher work the figure's operations did and what
	// it should cost (the CPU figures of encrypted engine arms).
	Expected *Expected `json:"expected,omitempty"`
	// Pooled says Summary and Versus.Summary are not medians but what
	// the rounds add up to: the mean cost per operation, and the ratio of
	// the sums of the baseline's and this figure's costs, with bootstrap
	// intervals. A fill's figures are pooled, because compactions fall
	// in some of its slices and not in the median one.
	Pooled bool `json:"pooled,omitempty"`
}

// Expected sets the CPU time an arm spends beyond plaintext against what
// its cipher work explains: the engine's reads and writes per operation
// (every byte of them decrypted or encrypted), each call costing what the
// cipher takes for a call of the arm's average read or write size,
// measured in the same run.
type Expected struct {
	// ReadCalls, WriteCalls, ReadBytes and WriteBytes are per operation.
	ReadCalls  float64 `json:"read_calls"`
	WriteCalls float64 `json:"write_calls"`
	ReadBytes  float64 `json:"read_bytes"`
	WriteBytes float64 `json:"write_bytes"`
	// ReadCallNs and WriteCallNs are the cipher's CPU time for one call
	// of the average read and write size.
	ReadCallNs  float64 `json:"read_call_ns"`
	WriteCallNs float64 `json:"write_call_ns"`
	// CipherNs is the expected cipher time per operation:
	// ReadCalls·ReadCallNs + WriteCalls·WriteCallNs.
	CipherNs float64 `json:"cipher_ns"`
	// MeasuredNs is the arm's CPU time per operation less its
	// baseline's: the median over rounds of the difference, or for a
	// pooled figure the difference of the means.
	MeasuredNs float64 `json:"measured_ns"`
}

// Gap is the measured cost beyond the expected cipher work, per
// operation, in nanoseconds.
func (e *Expected) Gap() float64 { return e.MeasuredNs - e.CipherNs }

// Relation is what a Versus expresses.
type Relation string

// The relations of a figure to its baseline.
const (
	// SpeedUp is atrest against a baseline library: the factor by which
	// atrest is faster (2 = twice the speed).
	SpeedUp Relation = "speedup"
	// Degradation is a method against plaintext: the share of plaintext's
	// speed lost, in percent (25 = a quarter of the throughput lost).
	Degradation Relation = "degradation"
	// Scaling is a thread count against one thread: the factor by which
	// the throughput grew.
	Scaling Relation = "scaling"
	// Overhead is a cost per operation against plaintext's: how much
	// more it costs, in percent (25 = a quarter more time per operation).
	Overhead Relation = "overhead"
)

// Versus compares a figure with its baseline round by round. The baseline
// was measured in the same rounds, interleaved with the figure, so the
// machine's drift cancels out of each round's ratio.
type Versus struct {
	// Relation is how to read Value.
	Relation Relation `json:"relation"`
	// Baseline describes the figure compared against: "crypto/cipher",
	// "gmsm", "plaintext" or "1 thread".
	Baseline string `json:"baseline"`
	// Speed holds one ratio per round: this figure's speed over the
	// baseline's (for latencies, the baseline's latency over this one's),
	// so above 1 is faster.
	Speed []float64 `json:"speed"`
	// Base holds, where the baseline's samples are paired with this
	// figure's round by round (the file and engine workloads), the
	// baseline's sample of each round: Speed[i] is Base[i] over the
	// figure's Samples[i] for a cost.
	Base []float64 `json:"base,omitempty"`
	// Summary is stats.Summarize of Speed; its Noisy mark is the
	// comparison's.
	Summary stats.Summary `json:"summary"`
}

// Value is the comparison as its relation reads: the speed-up or scaling
// factor, or the degradation in percent, at the median.
func (v *Versus) Value() float64 { return v.relate(v.Summary.Median) }

// Interval is the confidence interval of Value, low end first.
func (v *Versus) Interval() (lo, hi float64) {
	a, b := v.relate(v.Summary.Lo), v.relate(v.Summary.Hi)
	return min(a, b), max(a, b)
}

// RoundsToSettle estimates the rounds an Overhead comparison needs for
// its interval to narrow to ±maxSpread·50 points (±5 at the default 10%),
// from its width after the rounds it had: an interval narrows as one over
// the square root of the rounds. ok is false where the width says nothing
// (too few rounds for an interval, no width, another relation).
func (v *Versus) RoundsToSettle(maxSpread float64) (rounds int, ok bool) {
	lo, hi := v.Interval()
	half, limit := (hi-lo)/2, maxSpread*50
	n := v.Summary.N
	if v.Relation != Overhead || n < 6 || !(half > 0) || math.IsInf(half, 0) || !(limit > 0) {
		return 0, false
	}
	need := math.Ceil(float64(n) * (half / limit) * (half / limit))
	if need >= math.MaxInt32 {
		return math.MaxInt32, true // as good as never, and no overflow for the caller
	}
	return int(need), true
}

func (v *Versus) relate(speed float64) float64 {
	switch v.Relation {
	case Degradation:
		return (1 - speed) * 100
	case Overhead:
		return (1/speed - 1) * 100
	}
	return speed
}

// Noisy reports whether the figure or its comparison is too noisy to
// quote. A cost per operation (the file and engine workloads) is quoted
// by its overhead against plaintext: its comparison alone decides. The
// cost itself moves with the machine's speed over the run, which the
// pairing of slices cancels out of the overhead but not out of the
// absolute numbers; its Summary still marks a wide interval, and a
// report shows that on the median.
func (f *Figure) Noisy() bool {
	if f.Unit == NsPerOp {
		return f.Versus != nil && f.Versus.Summary.Noisy
	}
	return f.Summary.Noisy || (f.Versus != nil && f.Versus.Summary.Noisy)
}

// Key identifies a figure within a run, for comparing runs: two figures
// with the same key measured the same thing.
func (f *Figure) Key() string {
	return fmt.Sprintf("%s/%s/%s/size=%d/threads=%d/%s", f.Workload, f.Method, f.Impl, f.Size, f.Threads, f.Metric)
}

// WriteJSON writes r as an indented JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: encoding result: %w", err)
	}
	return nil
}

// ReadResult decodes a JSON document written by WriteJSON. A JSON object of
// another schema version (or none) gives ErrSchema; anything that does not
// decode into a Result (not JSON, an array, a field of the wrong type)
// gives the decoder's error, wrapped.
func ReadResult(rd io.Reader) (*Result, error) {
	var r Result
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: decoding result: %w", err)
	}
	if r.Schema < oldestSchema || r.Schema > SchemaVersion {
		return nil, fmt.Errorf("bench: schema %d (this build reads %d to %d): %w", r.Schema, oldestSchema, SchemaVersion, ErrSchema)
	}
	return &r, nil
}
