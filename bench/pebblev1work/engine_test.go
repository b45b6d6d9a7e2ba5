package pebblev1work

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench/engine/enginetest"
	"github.com/atrest/atrest/bench/peer"
	"github.com/atrest/atrest/ctr"
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
// Engine (enginetest.CheckArms).
func TestEngineArms(t *testing.T) {
	enginetest.CheckArms(t, Engine)
}

// TestEngineLockstep: two DBs given the same fill slices flush and
// compact alike in every slice (Engine.FlushEachSlice).
func TestEngineLockstep(t *testing.T) {
	enginetest.CheckLockstep(t, Engine, 60)
}
