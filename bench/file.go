package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/atrest/atrest/bench/interleave"
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/encfile"
	"github.com/atrest/atrest/keyenv"
)

// The encrypted-file workloads: files written and read through a
// dict.Manager, each method against plaintext in the same rounds.

const (
	// writeChunk is the size of each Write of FileWrite, and syncEvery how
	// many bytes go between its fsyncs: a log or SSTable writer's rhythm.
	writeChunk = 64 << 10
	syncEvery  = 1 << 20
)

// masterKey writes a random master key file in r.dir (once) and returns
// its configuration.
func (r *run) masterKey() (keyenv.MasterKeyConfig, error) {
	path := filepath.Join(r.dir, "master.key")
	if _, err := os.Stat(path); err != nil {
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(path, []byte(fmt.Sprintf("%x\n", key)), 0o600); err != nil {
			return keyenv.MasterKeyConfig{}, fmt.Errorf("writing master key: %w", err)
		}
	}
	return keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: path}, nil
}

// fileWorkload prepares a file workload: one data directory per arm's
// method under r.dir/name, and a chunk of random data to write.
// cleanup closes the Managers, then removes the directories.
func (r *run) fileWorkload(name string, methods []ctr.Method) (_ []ctr.Method, ms []*dict.Manager, chunk []byte, cleanup func(), err error) {
	ms, closeAll, err := r.managers(name, methods)
	if err != nil {
		os.RemoveAll(filepath.Join(r.dir, name))
		return nil, nil, nil, nil, err
	}
	chunk = make([]byte, writeChunk)
	rand.Read(chunk)
	cleanup = func() {
		closeAll()
		os.RemoveAll(filepath.Join(r.dir, name))
	}
	return methods, ms, chunk, cleanup, nil
}

// managers opens one data directory per method under r.dir/name and
// returns their Managers, with a function closing them.
func (r *run) managers(name string, methods []ctr.Method) ([]*dict.Manager, func(), error) {
	mk, err := r.masterKey()
	if err != nil {
		return nil, nil, err
	}
	var ms []*dict.Manager
	closeAll := func() {
		for _, m := range ms {
			m.Close()
		}
	}
	for _, method := range methods {
		cfg := keyenv.DefaultConfig()
		cfg.DataEncryptionMethod = method
		cfg.MasterKey = mk
		dir := filepath.Join(r.dir, name, fmt.Sprintf("%d-%s", len(ms), method))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			closeAll()
			return nil, nil, err
		}
		m, err := dict.Open(r.ctx, dir, cfg)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		ms = append(ms, m)
	}
	return ms, closeAll, nil
}

// fileArms are the arms of a file workload: plaintext through the
// Manager (the baseline), the control (plaintext again, in a directory of
// its own), then each method.
func (r *run) fileArms() []armSpec {
	specs := []armSpec{{ctr.Plaintext, ImplAtrest}, {ctr.Plaintext, ImplControl}}
	for _, m := range cipherMethods(r.cfg.Methods) {
		specs = append(specs, armSpec{m, ImplAtrest})
	}
	return specs
}

// fileRun opens a Manager per arm, makes each arm's slice with slice,
// runs them, and adds their figures.
func (r *run) fileRun(name string, size int, slice func(m *dict.Manager, chunk []byte) (sliceArm, func(), error)) error {
	specs := r.fileArms()
	methods := make([]ctr.Method, len(specs))
	for i, s := range specs {
		methods[i] = s.method
	}
	_, ms, chunk, cleanup, err := r.fileWorkload(name, methods)
	if err != nil {
		return err
	}
	defer cleanup()
	arms := make([]interleave.Arm, len(specs))
	for i := range specs {
		a, done, err := slice(ms[i], chunk)
		if err != nil {
			return err
		}
		defer done()
		arms[i] = a
	}
	// A file workload's slice leaves its directory as it found it: one
	// baseline serves every arm.
	bases := make([]interleave.Arm, len(specs)-1)
	for i := range bases {
		bases[i] = arms[0]
	}
	samples, err := r.sliceArms(name, specs, bases, arms[1:], false)
	if err != nil {
		return err
	}
	cpu, wall := armFigures(name, size, specs, samples, false)
	r.add(cpu...)
	r.add(wall...)
	return nil
}

// fileWrite writes a new file in each slice, 64 KiB a Write with an fsync
// every MiB, until the slice's time is up (at a MiB's end), then closes
// and removes it: an operation is one 64 KiB write. The file's creation
// and removal (and their dictionary records) are part of the time, as
// they are of a real log's.
func (r *run) fileWrite() error {
	return r.fileRun(FileWrite, writeChunk, func(m *dict.Manager, chunk []byte) (sliceArm, func(), error) {
		var n int
		return func(context.Context) (int, error) {
			n++
			return writeFile(m, fmt.Sprintf("write-%d", n), chunk, r.cfg.Slice)
		}, func() {}, nil
	})
}

// writeFile is one FileWrite slice; it returns the writes done.
func writeFile(m *dict.Manager, name string, chunk []byte, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	f, err := m.Create(name)
	if err != nil {
		return 0, err
	}
	writes := 0
	for written := int64(0); ; {
		n, err := f.Write(chunk)
		if err != nil {
			f.Close()
			return 0, err
		}
		writes++
		written += int64(n)
		if written%syncEvery == 0 {
			if err := f.Sync(); err != nil {
				f.Close()
				return 0, err
			}
			if !time.Now().Before(deadline) {
				break
			}
		}
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return writes, m.Remove(name)
}

// fileRead reads 4 KiB blocks at random aligned offsets of a FileSize file
// in each arm's data directory, from the page cache: what decryption
// adds to a read that the disk does not slow. An operation is a read.
func (r *run) fileRead() error {
	rng := mrand.New(mrand.NewPCG(3, 4))
	blocks := r.cfg.FileSize / readSize
	offsets := make([]int64, 4096)
	for i := range offsets {
		offsets[i] = rng.Int64N(blocks) * readSize
	}
	return r.fileRun(FileRead, readSize, func(m *dict.Manager, chunk []byte) (sliceArm, func(), error) {
		f, err := fillFile(m, "read", chunk, r.cfg.FileSize)
		if err != nil {
			return nil, nil, err
		}
		buf := make([]byte, readSize)
		var j int
		return func(context.Context) (int, error) {
			deadline := time.Now().Add(r.cfg.Slice)
			ops := 0
			for time.Now().Before(deadline) {
				for range 64 {
					if _, err := f.ReadAt(buf, offsets[j%len(offsets)]); err != nil {
						return ops, fmt.Errorf("reading %s: %w", f.Name(), err)
					}
					j++
					ops++
				}
			}
			return ops, nil
		}, func() { f.Close() }, nil
	})
}

// fillFile writes a file of size bytes through m and reopens it for
// reading.
func fillFile(m *dict.Manager, name string, chunk []byte, size int64) (*encfile.File, error) {
	f, err := m.Create(name)
	if err != nil {
		return nil, err
	}
	for written := int64(0); written < size; written += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), size-written)]); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return m.Open(name)
}
