package interleave

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// fakeArm records when it runs and does what it is told in its slice and
// in its quiescing.
type fakeArm struct {
	name    string
	log     *[]string
	ops     int
	work    func() // in the slice, timed
	quiesce func() // after it, untimed
	err     error
}

func (a *fakeArm) Slice(context.Context) (int, error) {
	*a.log = append(*a.log, a.name)
	if a.work != nil {
		a.work()
	}
	return a.ops, a.err
}

func (a *fakeArm) Quiesce() error {
	if a.quiesce != nil {
		a.quiesce()
	}
	return nil
}

// spin burns d of the process's CPU time (however long that takes on a
// busy machine).
// spin works until it has used d of CPU time and d of wall time: the
// process's CPU time counts every thread (the runtime's too), so CPU alone
// can pass d before the wall clock does.
func spin(d time.Duration) {
	start, _ := CPUTime()
	wallStart := time.Now()
	for {
		now, _ := CPUTime()
		if now-start >= d && time.Since(wallStart) >= d {
			return
		}
	}
}

func TestOrderRotates(t *testing.T) {
	for _, tt := range []struct {
		n, r int
		want []int
	}{
		{3, 0, []int{0, 1, 2}},
		{3, 1, []int{1, 2, 0}},
		{3, 2, []int{2, 0, 1}},
		{3, 3, []int{0, 1, 2}},
		{1, 5, []int{0}},
	} {
		if got := Order(tt.n, tt.r); !slices.Equal(got, tt.want) {
			t.Errorf("Order(%d, %d) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
	// Over n rounds every pair goes first once.
	first := map[int]int{}
	for r := range 4 {
		first[Order(4, r)[0]]++
	}
	if len(first) != 4 {
		t.Errorf("first places over 4 rounds: %v", first)
	}
}

// TestRunSchedule checks the slices' order: pairs rotating, each pair's
// baseline and arm back to back, the baseline first in even rounds and
// second in odd ones, the warm-up round run but not recorded.
func TestRunSchedule(t *testing.T) {
	var log []string
	base := &fakeArm{name: "B", log: &log, ops: 1}
	x := &fakeArm{name: "X", log: &log, ops: 2}
	y := &fakeArm{name: "Y", log: &log, ops: 3}
	var progress []int
	res, err := Run(context.Background(), []Pair{{base, x}, {base, y}}, Options{Rounds: 3, Warmup: 1}, func(i int) { progress = append(progress, i) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"B", "X", "B", "Y", // warm-up, round 0: base first
		"Y", "B", "X", "B", // round 1: pair 1 first, base second
		"B", "X", "B", "Y", // round 2
		"Y", "B", "X", "B", // round 3
	}
	if !slices.Equal(log, want) {
		t.Errorf("slices ran %v, want %v", log, want)
	}
	if !slices.Equal(progress, []int{1, 0, 0, 1, 1, 0}) {
		t.Errorf("progress %v", progress)
	}
	for i, p := range res {
		if len(p.Base) != 3 || len(p.Arm) != 3 {
			t.Fatalf("pair %d: %d and %d samples, want 3 each", i, len(p.Base), len(p.Arm))
		}
		for r := range 3 {
			if p.Base[r].Ops != 1 || p.Arm[r].Ops != 2+i {
				t.Errorf("pair %d round %d: base %d ops, arm %d, want 1 and %d (sides swapped?)", i, r, p.Base[r].Ops, p.Arm[r].Ops, 2+i)
			}
		}
	}
}

// TestCPUAccounting checks that a slice's CPU time is the CPU its work
// used (a slice that sleeps uses none, one that spins uses its wall time)
// and that quiescing is kept out of the timing.
func TestCPUAccounting(t *testing.T) {
	if _, err := CPUTime(); err != nil {
		t.Skipf("no CPU time here: %v", err)
	}
	var log []string
	const d = 40 * time.Millisecond
	sleeper := &fakeArm{name: "sleep", log: &log, ops: 4, work: func() { time.Sleep(d) }, quiesce: func() { spin(d) }}
	spinner := &fakeArm{name: "spin", log: &log, ops: 4, work: func() { spin(d) }, quiesce: func() { time.Sleep(2 * d) }}
	res, err := Run(context.Background(), []Pair{{sleeper, spinner}}, Options{Rounds: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		s, p := res[0].Base[r], res[0].Arm[r]
		if s.Wall < d || s.CPU > d/2 {
			t.Errorf("sleeping slice: wall %v, CPU %v; want %v of wall and little CPU (its quiescing spin kept out)", s.Wall, s.CPU, d)
		}
		if p.Wall < d || p.CPU < d || p.CPU > d*3/2 {
			t.Errorf("spinning slice: wall %v, CPU %v; want %v of CPU, not the spin of the other arm's quiescing", p.Wall, p.CPU, d)
		}
		if got, want := p.CPUPerOp(), float64(p.CPU)/4; got != want {
			t.Errorf("CPU per op %v, want %v", got, want)
		}
		if got, want := p.WallPerOp(), float64(p.Wall)/4; got != want {
			t.Errorf("wall per op %v, want %v", got, want)
		}
	}
}

func TestRunErrors(t *testing.T) {
	var log []string
	boom := errors.New("boom")
	ok := &fakeArm{name: "ok", log: &log, ops: 1}
	for _, tt := range []struct {
		name string
		arm  *fakeArm
		want error
	}{
		{"slice fails", &fakeArm{name: "bad", log: &log, ops: 1, err: boom}, boom},
		{"no operations", &fakeArm{name: "idle", log: &log}, ErrNoOps},
	} {
		if _, err := Run(context.Background(), []Pair{{ok, tt.arm}}, Options{Rounds: 1}, nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log = nil
	if _, err := Run(ctx, []Pair{{ok, ok}}, Options{Rounds: 1}, nil); !errors.Is(err, context.Canceled) || len(log) != 0 {
		t.Errorf("cancelled: %v after %d slices", err, len(log))
	}
}

func TestSampleAdd(t *testing.T) {
	a := Sample{Ops: 2, Wall: 10, CPU: 4}
	b := Sample{Ops: 3, Wall: 20, CPU: 6}
	if got := a.Add(b); got != (Sample{Ops: 5, Wall: 30, CPU: 10}) || got.WallPerOp() != 6 || got.CPUPerOp() != 2 {
		t.Errorf("%+v + %+v = %+v", a, b, got)
	}
}

// TestRunSettles: past Rounds, a pair that Settled calls settled sits out
// the rounds left, the others go on to MaxRounds, and the pairs still
// running keep taking turns.
func TestRunSettles(t *testing.T) {
	var log []string
	base := &fakeArm{name: "B", log: &log, ops: 1}
	x := &fakeArm{name: "X", log: &log, ops: 1}
	y := &fakeArm{name: "Y", log: &log, ops: 1}
	z := &fakeArm{name: "Z", log: &log, ops: 1}
	var asked []int
	opts := Options{Rounds: 2, MaxRounds: 5, Settled: func(i int, s PairSamples) bool {
		asked = append(asked, len(s.Arm))
		switch i {
		case 0:
			return true // settles as soon as it is asked
		case 1:
			return len(s.Arm) >= 3
		}
		return false
	}}
	res, err := Run(context.Background(), []Pair{{base, x}, {base, y}, {base, z}}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 3, 5} {
		if len(res[i].Arm) != want || len(res[i].Base) != want {
			t.Errorf("pair %d: %d and %d samples, want %d each", i, len(res[i].Base), len(res[i].Arm), want)
		}
	}
	count := map[string]int{}
	for _, name := range log {
		count[name]++
	}
	if count["X"] != 2 || count["Y"] != 3 || count["Z"] != 5 || count["B"] != 10 {
		t.Errorf("slices run: %v", count)
	}
	// Not asked before the Rounds-th round; each pair asked until it
	// settles: pair 0 once, pair 1 twice, pair 2 after rounds 2 to 5.
	if len(asked) != 1+2+4 || slices.Min(asked) != 2 {
		t.Errorf("Settled asked with %v samples", asked)
	}
	// Round 3 (r = 2) has pairs 1 and 2 left; Order(2, 2) puts pair 1
	// first, base first in even rounds.
	if got := log[12:16]; !slices.Equal(got, []string{"B", "Y", "B", "Z"}) {
		t.Errorf("round 3 ran %v", got)
	}
}

// TestRunBudget: once Budget has passed, no round past Rounds starts;
// the first Rounds always run.
func TestRunBudget(t *testing.T) {
	var log []string
	slow := &fakeArm{name: "S", log: &log, ops: 1, work: func() { time.Sleep(20 * time.Millisecond) }}
	never := func(int, PairSamples) bool { return false }
	res, err := Run(context.Background(), []Pair{{slow, slow}}, Options{Rounds: 3, MaxRounds: 1000, Budget: time.Millisecond, Settled: never}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Arm) != 3 {
		t.Errorf("%d rounds, want the 3 the budget cannot cut", len(res[0].Arm))
	}
	res, err = Run(context.Background(), []Pair{{slow, slow}}, Options{Rounds: 1, MaxRounds: 4, Settled: never}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Arm) != 4 {
		t.Errorf("%d rounds without a budget, want MaxRounds (4)", len(res[0].Arm))
	}
}
