package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/bench/pebblework"
	"github.com/atrest/atrest/ctr"
)

// pebble runs one of Pebble's workloads (package bench/pebblework) on
// every method and plaintext, rounds interleaved, and reports operations
// per second with the degradation against plaintext.
func (r *run) pebble(workload string) error {
	w, err := pebblework.ParseWorkload(strings.TrimPrefix(workload, "pebble-"))
	if err != nil {
		return err
	}
	mk, err := r.masterKey()
	if err != nil {
		return err
	}
	methods := withPlaintext(r.cfg.Methods)
	cfgs := make([]pebblework.Config, len(methods))
	for i, m := range methods {
		c := pebblework.DefaultConfig(filepath.Join(r.dir, workload, m.String()), m, mk)
		c.Keys = r.cfg.PebbleKeys
		cfgs[i] = c
	}
	ops := r.cfg.PebbleFillOps
	if w == pebblework.ReadRandom {
		ops = r.cfg.PebbleReadOps
	}
	defer os.RemoveAll(filepath.Join(r.dir, workload))
	// CompareWithProgress checks ctx itself, so step's error is left to it.
	samples, err := pebblework.CompareWithProgress(r.ctx, w, cfgs, r.cfg.Rounds, ops, func(i int) {
		r.step(fmt.Sprintf("%s %s", workload, methods[i]))
	})
	if err != nil {
		return err
	}
	figs := make([]*Figure, len(methods))
	for i, m := range methods {
		figs[i] = &Figure{Workload: workload, Method: m.String(), Impl: ImplAtrest, Kernel: ctr.KernelName(m), Metric: "throughput", Unit: OpsPerSecond}
		for _, ns := range samples[i].NsPerOp {
			figs[i].Samples = append(figs[i].Samples, 1e9/ns)
		}
	}
	r.addAgainstPlaintext(figs)
	return nil
}
