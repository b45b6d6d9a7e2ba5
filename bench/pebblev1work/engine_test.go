package pebblev1work

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrest/atrest/bench/engine"
	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// TestPeerFS runs Pebble v1 on the peer over an in-memory FS: what it
// wrote reads back (through a reopen, the IVs being in memory), no value
// is on the base FS in plaintext, and each file on the base is its
// content under the peer's cipher.
func TestPeerFS(t *testing.T) {
	for _, m := range []ctr.Method{ctr.AES128CTR, ctr.SM4CTR} {
		t.Run(m.String(), func(t *testing.T) {
			key := make([]byte, m.KeySize())
			rand.Read(key)
			c, err := peer.New(m, key)
			if err != nil {
				t.Fatal(err)
			}
			mem := vfs.NewMem()
			pfs := NewPeerFS(mem, c, rand.Reader)
			value := []byte(strings.Repeat("peer-plaintext-marker;", 20))
			open := func() *pebble.DB {
				db, err := pebble.Open("db", &pebble.Options{FS: pfs, Logger: quiet{}})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open()
			for i := range 2000 {
				if err := db.Set(fmt.Appendf(nil, "key%05d", i), value, pebble.NoSync); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = open()
			v, closer, err := db.Get([]byte("key01234"))
			if err != nil || !bytes.Equal(v, value) {
				t.Fatalf("after reopening: %q, %v", v, err)
			}
			closer.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			names, err := mem.List("db")
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, n := range names {
				path := mem.PathJoin("db", n)
				raw := readAll(t, mem, path)
				if bytes.Contains(raw, value[:16]) {
					t.Errorf("%s holds the value in plaintext", n)
				}
				if n == "LOCK" || len(raw) == 0 {
					continue
				}
				iv, ok := pfs.IVs().Lookup(path)
				if !ok {
					t.Errorf("%s has no IV", n)
					continue
				}
				want := make([]byte, len(raw))
				c.XORAt(want, raw, iv, 0)
				if got := readAll(t, pfs, path); !bytes.Equal(got, want) {
					t.Errorf("%s: the peer reads other bytes than the cipher gives", n)
				}
				checked++
			}
			if checked == 0 {
				t.Error("no file checked")
			}
		})
	}
}

func readAll(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineArms runs every workload on every kind of storage through
// Engine: slices do operations, and the counts see the engine's reads
// (random reads) and writes (fills).
func TestEngineArms(t *testing.T) {
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
			a, err := engine.NewArm(context.Background(), Engine, w, filepath.Join(root, fmt.Sprintf("%s-%d", w, i)), st, cfg)
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
	a, err := engine.NewArm(context.Background(), Engine, engine.FillRandom, filepath.Join(root, "fixed"), engine.Storage{Kind: engine.Plaintext}, fixed)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 2 {
		if n, err := a.Slice(context.Background()); n != 100 || err != nil {
			t.Errorf("a slice of 100 writes did %d, %v", n, err)
		}
	}
	if _, err := Engine.Open(context.Background(), filepath.Join(root, "bad"), engine.Storage{Kind: "rot13"}, engine.Options{}); !errors.Is(err, engine.ErrKind) {
		t.Errorf("an unknown storage kind: %v", err)
	}
}
