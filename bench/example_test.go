package bench_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/ctr"
)

// Measure what SM4 costs Pebble's random reads, against plaintext, and
// print each figure's median and its comparison.
func ExampleRun() {
	cfg := bench.QuickConfig()
	cfg.Methods = []ctr.Method{ctr.SM4CTR}
	cfg.Workloads = []string{bench.PebbleReadRandom}
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range res.Figures {
		fmt.Printf("%s %s: %.0f %s", f.Workload, f.Method, f.Summary.Median, f.Unit)
		if f.Versus != nil {
			lo, hi := f.Versus.Interval()
			fmt.Printf(", %s %.1f against %s [%.1f, %.1f]", f.Versus.Relation, f.Versus.Value(), f.Versus.Baseline, lo, hi)
		}
		if f.Noisy() {
			fmt.Print(" (noisy)")
		}
		fmt.Println()
	}
	// Keep the whole result for 'encbench compare'.
	if err := res.WriteJSON(os.Stdout); err != nil {
		log.Fatal(err)
	}
}
