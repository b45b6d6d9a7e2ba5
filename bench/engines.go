package bench

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/interleave"
	"github.com/atrest/atrest/bench/leveldbwork"
	"github.com/atrest/atrest/bench/pebblev1work"
	"github.com/atrest/atrest/bench/pebblework"
	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
)

// Engines are the storage engines of the engine workloads: each engine's
// workloads are named Name + "-" + the workload (pebble-fillseq), and run
// on plaintext, on atrest and on the peer with every method. Adding an
// engine is writing its engine.Engine (see bench/pebblework/engine.go)
// and listing it here.
var Engines = []engine.Engine{pebblework.Engine, pebblev1work.Engine, leveldbwork.Engine}

// engineWorkloadNames are the names of every engine workload, engine by
// engine.
func engineWorkloadNames() []string {
	var out []string
	for _, e := range Engines {
		for _, w := range engine.Workloads {
			out = append(out, e.Name+"-"+string(w))
		}
	}
	return out
}

// engineWorkload returns the engine and workload a workload name stands
// for.
func engineWorkload(name string) (engine.Engine, engine.Workload, bool) {
	for _, e := range Engines {
		if w, ok := strings.CutPrefix(name, e.Name+"-"); ok {
			if ew, err := engine.ParseWorkload(w); err == nil {
				return e, ew, true
			}
		}
	}
	return engine.Engine{}, "", false
}

// DescribeWorkload says in a line what a workload measures ("" for a
// name that is not a workload).
func DescribeWorkload(name string) string {
	if e, w, ok := engineWorkload(name); ok {
		return e.Title + ": " + w.About()
	}
	return ""
}

// engineArms are an engine workload's arms: plaintext (the engine on its
// own file system), the control (plaintext again), each method on
// atrest, then each method on the peer with a random key of the
// method's size.
func (r *run) engineArms() ([]armSpec, []engine.Storage, error) {
	mk, err := r.masterKey()
	if err != nil {
		return nil, nil, err
	}
	specs := []armSpec{{ctr.Plaintext, ImplNone}, {ctr.Plaintext, ImplControl}}
	sts := []engine.Storage{{Kind: engine.Plaintext}, {Kind: engine.Plaintext}}
	methods := cipherMethods(r.cfg.Methods)
	for _, m := range methods {
		specs = append(specs, armSpec{m, ImplAtrest})
		sts = append(sts, engine.Storage{Kind: engine.Atrest, Method: m, MasterKey: mk})
	}
	for _, m := range methods {
		key := make([]byte, m.KeySize())
		rand.Read(key)
		c, err := peer.New(m, key)
		if err != nil {
			return nil, nil, err
		}
		specs = append(specs, armSpec{m, ImplPeer})
		sts = append(sts, engine.Storage{Kind: engine.Peer, Method: m, Peer: c})
	}
	for i := range sts {
		sts[i].Counts = &engine.Counts{}
	}
	return specs, sts, nil
}

// engineRun runs an engine workload: every arm in slices, then a CPU and
// a wall figure per arm, the encrypted arms' CPU figures with the cipher
// work they did (Expected).
func (r *run) engineRun(name string) error {
	e, w, ok := engineWorkload(name)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownWorkload, name)
	}
	specs, sts, err := r.engineArms()
	if err != nil {
		return err
	}
	root := filepath.Join(r.dir, name)
	defer os.RemoveAll(root)
	cfg := engine.DefaultConfig()
	cfg.Keys, cfg.Slice = r.cfg.PebbleKeys, r.cfg.Slice
	var opened []*engine.Arm
	defer func() {
		for _, a := range opened {
			a.Close()
		}
	}()
	open := func(label string, st engine.Storage) (*engine.Arm, error) {
		a, err := engine.NewArm(r.ctx, e, w, filepath.Join(root, fmt.Sprintf("%d-%s", len(opened), label)), st, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		opened = append(opened, a)
		return a, nil
	}
	if w != engine.ReadRandom {
		// A fill changes its DB: every arm gets a baseline DB of its
		// own, and every slice does the same number of writes, so that
		// both DBs of a pair hold the same keys and flush and compact
		// at the same points.
		if cfg.SliceOps, err = r.calibrateFill(e, w, filepath.Join(root, "calibrate"), cfg); err != nil {
			return err
		}
	}
	arms := make([]*engine.Arm, len(specs))
	bases := make([]interleave.Arm, len(specs)-1)
	iarms := make([]interleave.Arm, len(specs)-1)
	for i, s := range specs {
		a, err := open(fmt.Sprintf("%s-%s", s.method, s.impl), sts[i])
		if err != nil {
			return err
		}
		arms[i] = a
		if i == 0 {
			continue
		}
		iarms[i-1], bases[i-1] = a, arms[0]
		if w != engine.ReadRandom && i > 1 {
			if bases[i-1], err = open("plaintext-base", sts[0]); err != nil {
				return err
			}
		}
	}
	samples, err := r.sliceArms(name, specs, bases, iarms, w != engine.ReadRandom)
	if err != nil {
		return err
	}
	cpu, wall := armFigures(name, 0, specs, samples, w != engine.ReadRandom)
	if cpu != nil {
		for i, s := range specs {
			if s.method == ctr.Plaintext {
				continue
			}
			xor, err := cipherOf(s.impl, sts[i])
			if err != nil {
				return err
			}
			cpu[i].Expected = expected(arms[i].IO, arms[i].Ops, xor, costBeyond(cpu[i]))
		}
	}
	r.add(cpu...)
	r.add(wall...)
	return nil
}

// calibrateFill runs one slice of fill w on a plaintext DB of its own in
// dir for cfg.Slice and returns the writes it did: the writes of every
// slice of the workload.
func (r *run) calibrateFill(e engine.Engine, w engine.Workload, dir string, cfg engine.Config) (int, error) {
	a, err := engine.NewArm(r.ctx, e, w, dir, engine.Storage{Kind: engine.Plaintext}, cfg)
	if err != nil {
		return 0, err
	}
	ops, err := a.Slice(r.ctx)
	return ops, errors.Join(err, a.Close(), os.RemoveAll(dir))
}
