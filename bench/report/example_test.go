package report_test

import (
	"os"
	"time"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/bench/report"
	"github.com/atrest/atrest/bench/stats"
)

// tiny is a run of one stream figure with its baseline.
func tiny() *bench.Result {
	xs := []float64{3480, 3520, 3500}
	speed := []float64{3.4, 3.6, 3.5}
	return &bench.Result{
		Schema:  bench.SchemaVersion,
		Started: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
		Elapsed: 2 * time.Second,
		Host: bench.Host{
			OS: "linux", Arch: "amd64", GoVersion: "go1.26.0", CPU: "Example CPU", LogicalCores: 4,
			Features: []string{"AES-NI"}, ClockHz: 3e9, Kernels: map[string]string{"aes128-ctr": "aesni"},
		},
		Options: bench.Options{
			Methods: []string{"aes128-ctr"}, Sizes: []int{4096}, Workloads: []string{bench.Stream},
			Rounds: 3, Duration: time.Second, Confidence: 0.95, MaxSpread: 0.10,
		},
		Figures: []bench.Figure{{
			Workload: bench.Stream, Method: "aes128-ctr", Impl: bench.ImplAtrest, Kernel: "aesni",
			Size: 4096, Metric: "throughput", Unit: bench.MBPerSecond,
			Samples: xs, Summary: stats.Summarize(xs, 0.95, 0.10), CyclesPerByte: 3e9 / 3500e6,
			Versus: &bench.Versus{
				Relation: bench.SpeedUp, Baseline: bench.ImplCryptoCipher,
				Speed: speed, Summary: stats.Summarize(speed, 0.95, 0.10),
			},
		}},
	}
}

func ExampleWriteTable() {
	// Three rounds are too few for a 95% interval: the figures are noisy.
	if err := report.WriteTable(os.Stdout, tiny()); err != nil {
		panic(err)
	}
	// Output:
	// encbench: 2025-03-14 15:09:26 UTC, took 2s
	// Host:      linux/amd64
	// CPU:       Example CPU (4 logical cores)
	// Features:  AES-NI
	// Clock:     3.00 GHz (calibrated)
	// Go:        go1.26.0
	// Kernels:   aes128-ctr: aesni
	// Rounds:    3 rounds of 1s per figure
	//
	// stream: XORKeyStreamAt over one buffer of each size, one core
	//   method      impl    size   median      ±      cycles/B  speed-up                              note
	//   aes128-ctr  atrest  4 KiB  ~3500 MB/s  ±0.6%  0.857     ~3.50× vs crypto/cipher [3.40, 3.60]  noisy
	//
	// ~ / noisy: the 95% interval of the median (or of the comparison) is wider than 10% of it (± above 5%; for an overhead, ± above 5 points), or there were too few rounds to reach 95% confidence; do not quote it. A cost per operation (ns/op) is quoted by its overhead: its row is noisy when the overhead is, while a ~ on its median says the machine's speed moved over the run, which pairing each slice with a plaintext slice cancels out of the overhead.
}

func ExampleWriteCSV() {
	if err := report.WriteCSV(os.Stdout, tiny()); err != nil {
		panic(err)
	}
	// Output:
	// workload,method,impl,kernel,size,threads,metric,unit,n,median,lo,hi,confidence,noisy,cycles_per_byte,versus_relation,versus_baseline,versus_value,versus_lo,versus_hi,versus_noisy,samples
	// stream,aes128-ctr,atrest,aesni,4096,0,throughput,MB/s,3,3500,3480,3520,0.75,true,0.8571428571428571,speedup,crypto/cipher,3.5,3.4,3.6,true,3480;3520;3500
}
