package bench

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"

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

// fileWorkload prepares a file workload: one data directory per method,
// plaintext first, under r.dir/name, and a chunk of random data to write.
// cleanup closes the Managers, then removes the directories.
func (r *run) fileWorkload(name string) (methods []ctr.Method, ms []*dict.Manager, chunk []byte, cleanup func(), err error) {
	methods = withPlaintext(r.cfg.Methods)
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
		dir := filepath.Join(r.dir, name, method.String())
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

// addAgainstPlaintext attaches to each figure but the first (plaintext) its speed
// against plaintext round by round, and adds them all to the result.
func (r *run) addAgainstPlaintext(figs []*Figure) {
	for _, f := range figs[1:] {
		f.Versus = &Versus{Relation: Degradation, Baseline: ctr.Plaintext.String(), Speed: speed(f.Samples, figs[0].Samples)}
	}
	r.add(figs...)
}

// fileWrite writes FileSize bytes per round into a new file of each
// method's data directory, 64 KiB a Write with an fsync every MiB, then
// closes and removes it. The file's creation and removal (and their
// dictionary records) are part of the time, as they are of a real log's.
func (r *run) fileWrite() error {
	methods, ms, chunk, cleanup, err := r.fileWorkload(FileWrite)
	if err != nil {
		return err
	}
	defer cleanup()
	figs := make([]*Figure, len(methods))
	for i, m := range methods {
		figs[i] = &Figure{Workload: FileWrite, Method: m.String(), Impl: ImplAtrest, Kernel: ctr.KernelName(m), Size: writeChunk, Metric: "throughput", Unit: MBPerSecond}
	}
	for round := range r.cfg.Rounds {
		for k := range methods {
			i := (k + round) % len(methods)
			d, err := writeFile(ms[i], fmt.Sprintf("write-%d", round), chunk, r.cfg.FileSize)
			if err != nil {
				return err
			}
			figs[i].Samples = append(figs[i].Samples, float64(r.cfg.FileSize)/d/1e6)
			if err := r.step(fmt.Sprintf("%s %s", FileWrite, methods[i])); err != nil {
				return err
			}
		}
	}
	r.addAgainstPlaintext(figs)
	return nil
}

// writeFile is one FileWrite round; it returns the seconds it took.
func writeFile(m *dict.Manager, name string, chunk []byte, size int64) (float64, error) {
	start := nanotime()
	f, err := m.Create(name)
	if err != nil {
		return 0, err
	}
	for written := int64(0); written < size; {
		n, err := f.Write(chunk[:min(int64(len(chunk)), size-written)])
		if err != nil {
			f.Close()
			return 0, err
		}
		written += int64(n)
		if written%syncEvery == 0 || written == size {
			if err := f.Sync(); err != nil {
				f.Close()
				return 0, err
			}
		}
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := m.Remove(name); err != nil {
		return 0, err
	}
	return float64(nanotime()-start) / 1e9, nil
}

// fileRead reads 4 KiB blocks at random aligned offsets of a FileSize file
// in each method's data directory, from the page cache: what decryption
// adds to a read that the disk does not slow.
func (r *run) fileRead() error {
	methods, ms, chunk, cleanup, err := r.fileWorkload(FileRead)
	if err != nil {
		return err
	}
	defer cleanup()
	rng := mrand.New(mrand.NewPCG(3, 4))
	blocks := r.cfg.FileSize / readSize
	offsets := make([]int64, 4096)
	for i := range offsets {
		offsets[i] = rng.Int64N(blocks) * readSize
	}
	buf := make([]byte, readSize)
	// A read error stops nothing mid-round (the op has no way to
	// return one); the first is kept and ends the workload.
	var readErr error
	ops := make([]func(), len(methods))
	figs := make([]*Figure, len(methods))
	for i, m := range methods {
		f, err := fillFile(ms[i], "read", chunk, r.cfg.FileSize)
		if err != nil {
			return err
		}
		defer f.Close()
		var j int
		ops[i] = func() {
			if _, err := f.ReadAt(buf, offsets[j%len(offsets)]); err != nil && readErr == nil {
				readErr = fmt.Errorf("reading %s: %w", f.Name(), err)
			}
			j++
		}
		figs[i] = &Figure{Workload: FileRead, Method: m.String(), Impl: ImplAtrest, Kernel: ctr.KernelName(m), Size: readSize, Metric: "throughput", Unit: OpsPerSecond}
		measure(r.cfg.Duration/10, ops[i])
	}
	for round := range r.cfg.Rounds {
		for k := range methods {
			i := (k + round) % len(methods)
			n, d := measure(r.cfg.Duration, ops[i])
			figs[i].Samples = append(figs[i].Samples, float64(n)/d.Seconds())
			if readErr != nil {
				return readErr
			}
			if err := r.step(fmt.Sprintf("%s %s", FileRead, methods[i])); err != nil {
				return err
			}
		}
	}
	r.addAgainstPlaintext(figs)
	return nil
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
