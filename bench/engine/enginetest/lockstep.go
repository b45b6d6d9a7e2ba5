package enginetest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/atrest/atrest/bench/engine"
)

// CheckLockstep fills two plaintext DBs of e with the same random writes,
// slice by slice in turn as the benchmark's pairs do, and checks that
// they read and write the same bytes in every slice: the same flushes and
// the same compactions in the same rounds, which is what lets a pair's
// ratio of one round compare like with like. It is for engines with
// Engine.FlushEachSlice; slices is how many each DB runs.
func CheckLockstep(t *testing.T, e engine.Engine, slices int) {
	t.Helper()
	if !e.FlushEachSlice {
		t.Fatalf("%s does not flush each slice", e.Name)
	}
	cfg := engine.DefaultConfig()
	// 20,000 keys overwritten at random in slices of 2,000 writes: a
	// slice's writes fit the memtable, and after a few slices every flush
	// starts compactions.
	cfg.Keys, cfg.SliceOps = 20_000, 2_000
	root := t.TempDir()
	var arms [2]*engine.Arm
	for i := range arms {
		st := engine.Storage{Kind: engine.Plaintext, Counts: &engine.Counts{}}
		a, err := engine.NewArm(context.Background(), e, engine.FillRandom, filepath.Join(root, fmt.Sprint(i)), st, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		arms[i] = a
	}
	compacting := 0 // slices that read (compacted) as well as wrote
	for s := range slices {
		var io [2]engine.IO
		for i, a := range arms {
			before := a.IO
			if _, err := a.Slice(context.Background()); err != nil {
				t.Fatal(err)
			}
			io[i] = a.IO.Sub(before)
		}
		if io[0].ReadBytes != io[1].ReadBytes || io[0].WriteBytes != io[1].WriteBytes {
			t.Fatalf("slice %d: the DBs given the same writes differ: %+v and %+v", s, io[0], io[1])
		}
		if io[0].ReadBytes > 0 {
			compacting++
		}
	}
	if compacting == 0 {
		t.Errorf("no slice of %d compacted: the check saw only flushes", slices)
	}
}
