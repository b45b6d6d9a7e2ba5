// Package bench measures what encryption at rest costs on the machine it
// runs on, per method, and is the engine of cmd/encbench.
//
// Run takes a Config (DefaultConfig, QuickConfig or FullConfig, adjusted)
// and returns a Result: the host (CPU, features, the kernel of each method,
// the core clock calibrated in the same run) and one Figure per measured
// quantity. The workloads are listed in Workloads: the raw keystream at
// several sizes, 4 KiB random reads, the parallel path's scaling, files
// written and read through a dict.Manager, and each engine of Engines
// (Pebble v2 on pebblefs) filling and reading.
//
// The cipher workloads measure each figure in rounds with its baseline in
// the same rounds, the two taking turns: crypto/cipher (AES) or gmsm (SM4)
// for the raw cipher, one thread for the parallel path. The file and
// engine workloads measure arms (each method on atrest, each method on the
// typical Go way of package bench/peer for the engines, and a plaintext
// control) each paired with a plaintext baseline in short slices (package
// bench/interleave), in CPU time and wall time per operation; the engines'
// encrypted arms also record the bytes they read and wrote and what the
// cipher should have cost for them (Expected).
//
// A figure's Versus holds one ratio per round, so the machine's drift,
// which moves both sides of a round alike, cancels; the median and its
// confidence interval come from package bench/stats, and a figure whose
// interval is too wide is marked noisy rather than quoted as a clean
// number.
//
// A Result is written as versioned JSON (WriteJSON, ReadResult); package
// bench/report writes tables, CSV, Markdown and charts, and CompareResults
// says what changed between two runs.
package bench
