// Package enginetest checks an engine of the benchmark's engine
// workloads (bench/engine) the same way for every engine: each workload
// runs on plaintext, on atrest and on the peer, slices do work, and the
// counts see the engine's reads and writes.
package enginetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

// CheckArms runs every workload on every kind of storage through e:
// slices do operations, the counts see the engine's reads (random reads)
// and writes (fills), a slice of a fixed number of writes does exactly
// that many, and an unknown storage kind fails with engine.ErrKind.
func CheckArms(t *testing.T, e engine.Engine) {
	t.Helper()
	root := t.TempDir()
	keyPath := filepath.Join(root, "master.key")
	if err := os.WriteFile(keyPath, []byte(strings.Repeat("22", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	c, err := peer.New(ctr.AES128CTR, key)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []engine.Storage{
		{Kind: engine.Plaintext},
		{Kind: engine.Atrest, Method: ctr.AES128CTR, MasterKey: keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyPath}},
		{Kind: engine.Peer, Method: ctr.AES128CTR, Peer: c},
	}
	cfg := engine.DefaultConfig()
	cfg.Keys, cfg.Slice = 3000, 5*time.Millisecond
	for _, w := range engine.Workloads {
		for i, st := range kinds {
			st.Counts = &engine.Counts{}
			a, err := engine.NewArm(context.Background(), e, w, filepath.Join(root, fmt.Sprintf("%s-%d", w, i)), st, cfg)
			if err != nil {
				t.Fatalf("%s on %s: %v", w, st.Kind, err)
			}
			for range 3 {
				if n, err := a.Slice(context.Background()); err != nil || n < 1 {
					t.Fatalf("%s on %s: slice did %d, %v", w, st.Kind, n, err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			io := a.IO
			if w == engine.ReadRandom && (io.ReadCalls == 0 || io.ReadBytes == 0) {
				t.Errorf("%s on %s: no reads counted: %+v", w, st.Kind, io)
			}
			if w != engine.ReadRandom && (io.WriteCalls == 0 || io.WriteBytes == 0) {
				t.Errorf("%s on %s: no writes counted: %+v", w, st.Kind, io)
			}
		}
	}
	// A fixed number of writes per slice: two DBs filled alike stay alike.
	fixed := cfg
	fixed.SliceOps = 100
	a, err := engine.NewArm(context.Background(), e, engine.FillRandom, filepath.Join(root, "fixed"), engine.Storage{Kind: engine.Plaintext}, fixed)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 2 {
		if n, err := a.Slice(context.Background()); n != 100 || err != nil {
			t.Errorf("a slice of 100 writes did %d, %v", n, err)
		}
	}
	if _, err := e.Open(context.Background(), filepath.Join(root, "bad"), engine.Storage{Kind: "rot13"}, engine.Options{}); !errors.Is(err, engine.ErrKind) {
		t.Errorf("an unknown storage kind: %v", err)
	}
}
