package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/atrest/atrest/bench/pebblework"
)

// ErrUnknownWorkload is returned (wrapped) by ParseWorkloads for a name that
// is not a workload; the message lists the valid ones.
var ErrUnknownWorkload = errors.New("unknown workload")

// The workloads, as named in Figure.Workload and on encbench's command line.
const (
	// Stream is XORKeyStreamAt over one buffer of each size on one core,
	// against crypto/cipher (AES) or gmsm (SM4) reusing one stream: MB/s
	// and cycles per byte.
	Stream = "stream"
	// RandomRead decrypts 4 KiB at a random byte offset of a 1 GiB file,
	// call by call: the p50 and p99 latency. The baselines have no random
	// access, so each read makes a stream at the offset.
	RandomRead = "random-read"
	// Parallel is one large XORKeyStreamAt at 1, 2, 4, ... threads up to
	// Options.Threads: MB/s and the scaling over one thread.
	Parallel = "parallel"
	// FileWrite writes a file through the dict.Manager in 64 KiB writes,
	// with an fsync every MiB: CPU and wall time per write, and the
	// overhead against plaintext.
	FileWrite = "file-write"
	// FileRead reads 4 KiB blocks at random aligned offsets of a file
	// through the dict.Manager (from the page cache): CPU and wall time
	// per read, and the overhead against plaintext.
	FileRead = "file-read"
	// PebbleFillSeq, PebbleFillRandom and PebbleReadRandom are the
	// engine workloads (package bench/engine) of Pebble v2: CPU and wall
	// time per operation on plaintext, on pebblefs and on the peer, and
	// the overhead against plaintext. Every engine in Engines has the
	// same three, named after it.
	PebbleFillSeq    = "pebble-fillseq"
	PebbleFillRandom = "pebble-fillrandom"
	PebbleReadRandom = "pebble-readrandom"
)

// Workloads lists every workload in the order a run measures them: the
// cipher's, the files', then each engine's (Engines).
var Workloads = append([]string{Stream, RandomRead, Parallel, FileWrite, FileRead}, engineWorkloadNames()...)

// QuickWorkloads are the workloads of the quick preset: every workload but
// the engine workloads of engines other than Pebble v2, which a quick run
// measures only when asked for them (each engine adds about a minute).
func QuickWorkloads() []string {
	var out []string
	for _, w := range Workloads {
		if e, _, ok := engineWorkload(w); !ok || e.Name == pebblework.Engine.Name {
			out = append(out, w)
		}
	}
	return out
}

// ParseWorkloads parses a comma-separated list of workload names ("all" for
// every one), keeping the order of Workloads and dropping repeats.
func ParseWorkloads(list string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return slices.Clone(Workloads), nil
	}
	want := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(Workloads, name) {
			return nil, fmt.Errorf("%w %q (valid: %s, or all)", ErrUnknownWorkload, name, strings.Join(Workloads, ", "))
		}
		want[name] = true
	}
	var out []string
	for _, w := range Workloads {
		if want[w] {
			out = append(out, w)
		}
	}
	return out, nil
}
