package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/atrest/atrest/bench/stats"
	"github.com/atrest/atrest/ctr"
)

// ErrConfig is returned (wrapped) by Run for settings it cannot run with.
var ErrConfig = errors.New("invalid benchmark configuration")

// The presets' names, as Options.Preset records them.
const (
	PresetQuick = "quick"
	PresetFull  = "full"
)

// Config is what a run measures and for how long.
type Config struct {
	// Methods are the encryption methods to measure. Plaintext is measured
	// as the baseline of the file and Pebble workloads whether listed or
	// not; the raw cipher workloads measure it only for Stream (a copy).
	Methods []ctr.Method
	// Sizes are the buffer sizes of the Stream workload, in bytes.
	Sizes []int
	// Workloads are the workloads to run (see Workloads).
	Workloads []string
	// Rounds is how many times each figure is measured. Six or more are
	// needed for a 95% interval of the median; fewer give noisy figures.
	Rounds int
	// Duration is the time one round of one figure runs for (Stream,
	// RandomRead, Parallel).
	Duration time.Duration
	// SliceRounds and Slice are the rounds of the file and engine
	// workloads and the length of one arm's slice of a round: the arms
	// (plaintext, the control, the methods, the peers) take turns in
	// slices, so many short rounds let the machine's drift cancel.
	SliceRounds int
	Slice       time.Duration
	// SliceRoundsMax, if more than SliceRounds, lets the pairs whose
	// overhead is still noisy after SliceRounds rounds go on, up to
	// SliceRoundsMax rounds, while the settled ones sit out. A noisy
	// machine then spends its time where the figures need it.
	SliceRoundsMax int
	// SliceBudget, if not 0, is the time the file and engine workloads'
	// rounds may take together: no round past SliceRounds starts once a
	// workload has used its share, an equal share of what is left when
	// it starts, so that the time one workload's settled pairs did not
	// need goes to the workloads after it. The first SliceRounds rounds
	// always run.
	SliceBudget time.Duration
	// Threads is the largest thread count of the Parallel workload.
	Threads int
	// ParallelSize is the buffer length of the Parallel workload.
	ParallelSize int
	// FileSize is what one FileWrite round writes, and the size of the
	// file FileRead reads from.
	FileSize int64
	// PebbleKeys sizes the engine workloads: the fills' key space, and
	// the keys loaded for the random reads.
	PebbleKeys int
	// Dir is a scratch directory for the file and Pebble workloads; empty
	// means a new temporary directory, removed at the end.
	Dir string
	// Preset is recorded in the result ("quick", "full" or "").
	Preset string
	// Confidence and MaxSpread go to stats.Summarize.
	Confidence, MaxSpread float64
	// Progress, if not nil, is called after every measured round with the
	// number of rounds done, the total, and what is being measured.
	Progress func(done, total int, step string)
}

// DefaultConfig measures every method and workload at moderate length:
// about five minutes on a two-core machine, and up to two more for the
// file and engine figures still noisy after thirty rounds.
func DefaultConfig() Config {
	return Config{
		Methods:        slices.Clone(ctr.Methods),
		Sizes:          []int{64, 512, 4 << 10, 16 << 10, 64 << 10, 1 << 20},
		Workloads:      slices.Clone(Workloads),
		Rounds:         10,
		Duration:       100 * time.Millisecond,
		SliceRounds:    30,
		SliceRoundsMax: 300,
		SliceBudget:    2 * time.Minute,
		Slice:          20 * time.Millisecond,
		Threads:        runtime.NumCPU(),
		ParallelSize:   4 << 20,
		FileSize:       64 << 20,
		PebbleKeys:     100_000,
		Confidence:     stats.DefaultConfidence,
		MaxSpread:      stats.DefaultMaxSpread,
	}
}

// QuickConfig measures briefly what a buyer asks first: plaintext, the
// default AES (aes128-ctr) and SM4; ten rounds of the cipher workloads
// (the fewest whose 95% interval of the median leaves out the extreme
// round at each end), short rounds, three sizes; and, for the files and
// small Pebble databases, twenty rounds of 20 ms slices, then more rounds
// for the pairs still noisy by CPU or wall time, within three minutes for
// all five. It takes about two minutes on a two-core VM (less where the
// figures settle sooner).
func QuickConfig() Config {
	c := DefaultConfig()
	c.Preset = PresetQuick
	c.Methods = QuickMethods()
	c.Workloads = QuickWorkloads()
	c.Sizes = []int{64, 4 << 10, 1 << 20}
	c.Duration = 30 * time.Millisecond
	c.FileSize = 32 << 20
	c.PebbleKeys = 50_000
	c.SliceRounds = 20
	c.SliceRoundsMax = 400
	c.SliceBudget = 3 * time.Minute
	return c
}

// QuickMethods are the methods QuickConfig measures: plaintext, the
// default AES and SM4. AES-192 and AES-256 cost a little more than
// AES-128 per byte (12 and 14 rounds against 10) and are measured by
// the other presets.
func QuickMethods() []ctr.Method {
	return []ctr.Method{ctr.Plaintext, ctr.AES128CTR, ctr.SM4CTR}
}

// FullConfig is the run committed to results/: sizes from 16 bytes to
// 4 MiB, twenty rounds, and sixty rounds of slices with Pebble at the
// size of its Go benchmarks, then up to a thousand for the figures still
// noisy, within ten minutes in all.
func FullConfig() Config {
	c := DefaultConfig()
	c.Preset = PresetFull
	c.Sizes = []int{16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	c.Rounds = 20
	c.FileSize = 128 << 20
	c.PebbleKeys = 200_000
	c.SliceRounds = 60
	c.SliceRoundsMax = 1000
	c.SliceBudget = 10 * time.Minute
	return c
}

func (c *Config) validate() error {
	switch {
	case len(c.Methods) == 0:
		return fmt.Errorf("%w: no methods", ErrConfig)
	case len(c.Workloads) == 0:
		return fmt.Errorf("%w: no workloads", ErrConfig)
	case c.Rounds < 1:
		return fmt.Errorf("%w: rounds %d (need at least 1)", ErrConfig, c.Rounds)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v (need more than 0)", ErrConfig, c.Duration)
	case c.SliceRounds < 1 || c.Slice <= 0:
		return fmt.Errorf("%w: %d slice rounds of %v (need at least 1 of more than 0)", ErrConfig, c.SliceRounds, c.Slice)
	case c.SliceRoundsMax < 0 || c.SliceBudget < 0:
		return fmt.Errorf("%w: at most %d slice rounds within %v (neither may be negative)", ErrConfig, c.SliceRoundsMax, c.SliceBudget)
	case c.Threads < 1:
		return fmt.Errorf("%w: threads %d (need at least 1)", ErrConfig, c.Threads)
	case c.ParallelSize < 1 || c.FileSize < 1<<20:
		return fmt.Errorf("%w: parallel size %d or file size %d too small", ErrConfig, c.ParallelSize, c.FileSize)
	case c.PebbleKeys < 1:
		return fmt.Errorf("%w: the engine workloads' key count must be positive", ErrConfig)
	}
	for _, n := range c.Sizes {
		if n < MinSize || n > MaxSize {
			return fmt.Errorf("%w: size %d: %w", ErrConfig, n, ErrSize)
		}
	}
	for _, w := range c.Workloads {
		if !slices.Contains(Workloads, w) {
			return fmt.Errorf("%w: %w %q", ErrConfig, ErrUnknownWorkload, w)
		}
	}
	if slices.Contains(c.Workloads, Stream) && len(c.Sizes) == 0 {
		return fmt.Errorf("%w: the stream workload needs sizes", ErrConfig)
	}
	return nil
}

// run is one benchmark run in progress.
type run struct {
	ctx     context.Context
	cfg     Config
	res     *Result
	dir     string
	done    int
	total   int
	timerNs float64
	// budgetLeft is what is left of cfg.SliceBudget, and sliceLeft the
	// file and engine workloads yet to run, among which it is shared.
	budgetLeft time.Duration
	sliceLeft  int
}

// Run measures what cfg asks for and returns the result. The host is
// described (and its clock calibrated) first. A cancelled ctx stops the
// run at the next round with ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Confidence == 0 {
		cfg.Confidence = stats.DefaultConfidence
	}
	if cfg.MaxSpread == 0 {
		cfg.MaxSpread = stats.DefaultMaxSpread
	}
	r := &run{ctx: ctx, cfg: cfg}
	r.res = &Result{Schema: SchemaVersion, Started: time.Now().UTC().Round(time.Second), Host: DetectHost(), Options: cfg.options()}
	r.total = r.countRounds()
	r.budgetLeft = cfg.SliceBudget
	for _, w := range cfg.Workloads {
		if slicedWorkload(w) {
			r.sliceLeft++
		}
	}
	r.timerNs = timerOverhead()
	r.res.Host.ClockReadNs = r.timerNs

	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "encbench-")
		if err != nil {
			return nil, fmt.Errorf("bench: scratch directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: scratch directory: %w", err)
	}
	r.dir = dir

	start := time.Now()
	steps := map[string]func() error{
		Stream:     r.stream,
		RandomRead: r.randomRead,
		Parallel:   r.parallel,
		FileWrite:  r.fileWrite,
		FileRead:   r.fileRead,
	}
	for _, w := range Workloads {
		if !slices.Contains(cfg.Workloads, w) {
			continue
		}
		step := steps[w]
		if step == nil {
			step = func() error { return r.engineRun(w) }
		}
		if err := step(); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", w, err)
		}
	}
	r.res.Elapsed = time.Since(start).Round(time.Millisecond)
	return r.res, nil
}

func (c *Config) options() Options {
	o := Options{
		Sizes:     slices.Clone(c.Sizes),
		Workloads: slices.Clone(c.Workloads),
		Rounds:    c.Rounds,
		Duration:  c.Duration,
		Threads:   c.Threads,
		Preset:    c.Preset,

		Slice:          c.Slice,
		SliceRounds:    c.SliceRounds,
		SliceRoundsMax: c.SliceRoundsMax,
		SliceBudget:    c.SliceBudget,
		Confidence:     c.Confidence,
		MaxSpread:      c.MaxSpread,
	}
	for _, m := range c.Methods {
		o.Methods = append(o.Methods, m.String())
	}
	return o
}

// countRounds is the number of rounds the run will measure, for progress.
func (r *run) countRounds() int {
	c := &r.cfg
	ciphers := len(cipherMethods(c.Methods))
	n := 0
	for _, w := range c.Workloads {
		switch w {
		case Stream:
			n += len(c.Sizes) * len(c.Methods) * c.Rounds
		case RandomRead:
			n += ciphers * c.Rounds
		case Parallel:
			n += ciphers * len(threadCounts(c.Threads)) * c.Rounds
		case FileWrite, FileRead:
			n += (1 + ciphers) * c.maxSliceRounds() // pairs: the control, the methods
		default:
			n += (1 + 2*ciphers) * c.maxSliceRounds() // and the peers
		}
	}
	return n
}

// slicedWorkload reports whether workload w measures its arms in
// interleaved slices: the file and engine workloads.
func slicedWorkload(w string) bool {
	_, _, engine := engineWorkload(w)
	return engine || w == FileWrite || w == FileRead
}

// sliceBudget is the share of cfg.SliceBudget of the next file or engine
// workload (0: no limit), and a function to call when it is done, which
// takes the time it used off what is left.
func (r *run) sliceBudget() (time.Duration, func()) {
	if r.cfg.SliceBudget == 0 {
		return 0, func() {}
	}
	share := r.budgetLeft / time.Duration(max(r.sliceLeft, 1))
	// A share of nothing would mean no limit to interleave.Run.
	share = max(share, time.Nanosecond)
	start := time.Now()
	return share, func() {
		r.budgetLeft = max(r.budgetLeft-time.Since(start), 0)
		r.sliceLeft--
	}
}

// maxSliceRounds is the most rounds a pair of the file and engine
// workloads can run: what the progress bar counts until pairs settle.
func (c *Config) maxSliceRounds() int { return max(c.SliceRounds, c.SliceRoundsMax) }

// step reports a measured round to the progress callback and checks ctx.
func (r *run) step(what string) error {
	r.done++
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.done, r.total, what)
	}
	return r.ctx.Err()
}

// summarize fills in a figure's summaries from its samples.
func (r *run) summarize(f *Figure) {
	if f.Pooled {
		f.Summary = pooledRatio(f.Samples, ones(len(f.Samples)), r.cfg.Confidence, r.cfg.MaxSpread)
	} else {
		f.Summary = stats.Summarize(f.Samples, r.cfg.Confidence, r.cfg.MaxSpread)
	}
	if f.Versus != nil {
		r.summarizeVersus(f)
	}
}

// summarizeVersus fills in the summary of f's comparison alone: all that
// settling a pair asks after every round, where f's own summary would be
// a second bootstrap (milliseconds at a few hundred rounds) taken from
// the slice budget's wall time for nothing.
func (r *run) summarizeVersus(f *Figure) {
	if f.Pooled {
		f.Versus.Summary = pooledRatio(f.Versus.Base, f.Samples, r.cfg.Confidence, r.cfg.MaxSpread)
	} else {
		f.Versus.Summary = stats.Summarize(f.Versus.Speed, r.cfg.Confidence, r.cfg.MaxSpread)
	}
	if f.Versus.Relation == Overhead {
		f.Versus.Summary.Noisy = overheadNoisy(f.Versus, r.cfg.Confidence, r.cfg.MaxSpread)
	}
}

// add summarizes figures and appends them to the result.
func (r *run) add(figs ...*Figure) {
	for _, f := range figs {
		r.summarize(f)
		r.res.Figures = append(r.res.Figures, *f)
	}
}

// cipherMethods is methods without Plaintext.
func cipherMethods(methods []ctr.Method) []ctr.Method {
	var out []ctr.Method
	for _, m := range methods {
		if m != ctr.Plaintext {
			out = append(out, m)
		}
	}
	return out
}

// threadCounts are the Parallel workload's thread counts: powers of two up
// to limit, and limit itself.
func threadCounts(limit int) []int {
	var out []int
	for t := 1; t < limit; t *= 2 {
		out = append(out, t)
	}
	return append(out, limit)
}

// measure runs op in batches until d has passed, doubling the batch while
// a batch takes under a fiftieth of d, so that reading the clock costs
// nothing next to the work. It returns the operations done and the time
// they took.
func measure(d time.Duration, op func()) (ops int, elapsed time.Duration) {
	batch := 1
	start := time.Now()
	batchStart := start
	for {
		for range batch {
			op()
		}
		ops += batch
		now := time.Now()
		if elapsed = now.Sub(start); elapsed >= d {
			return ops, elapsed
		}
		if now.Sub(batchStart) < d/50 {
			batch *= 2
		}
		batchStart = now
	}
}

// timerOverhead is the median time between two consecutive readings of the
// clock, in nanoseconds: what timing a single call adds to it.
func timerOverhead() float64 {
	const n = 10001
	gaps := make([]float64, n)
	for i := range gaps {
		t0 := time.Now()
		gaps[i] = float64(time.Since(t0))
	}
	return stats.Median(gaps)
}
