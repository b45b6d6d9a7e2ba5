package pebblework

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/keyenv"
)

func TestParseWorkload(t *testing.T) {
	for _, w := range Workloads {
		if got, err := ParseWorkload(string(w)); err != nil || got != w {
			t.Errorf("ParseWorkload(%q) = %q, %v", w, got, err)
		}
	}
	for _, bad := range []string{"", "fill", "FillSeq", "readseq"} {
		_, err := ParseWorkload(bad)
		if !errors.Is(err, ErrUnknownWorkload) || !strings.Contains(err.Error(), "fillseq, fillrandom, readrandom") {
			t.Errorf("ParseWorkload(%q): %v, want ErrUnknownWorkload listing the workloads", bad, err)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1, 1000, 10}, 10},
	} {
		if got := (Samples{NsPerOp: tt.in}).Median(); got != tt.want {
			t.Errorf("median of %v = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestCompare runs every workload small on two methods: samples for every
// round, and the fills leave no DB behind.
func TestCompare(t *testing.T) {
	root := t.TempDir()
	keyPath := filepath.Join(root, "master.key")
	if err := os.WriteFile(keyPath, []byte(strings.Repeat("11", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk := keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyPath}
	for _, w := range Workloads {
		var cfgs []Config
		for _, m := range []ctr.Method{ctr.Plaintext, ctr.SM4CTR} {
			c := DefaultConfig(filepath.Join(root, string(w), m.String()), m, mk)
			c.Keys = 2000
			cfgs = append(cfgs, c)
		}
		res, err := Compare(context.Background(), w, cfgs, 3, 500)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		for i, r := range res {
			if r.Config.Method != cfgs[i].Method || len(r.NsPerOp) != 3 || r.Median() <= 0 {
				t.Errorf("%s: result %d: %s with %v", w, i, r.Config.Method, r.NsPerOp)
			}
		}
		if w != ReadRandom {
			left, _ := filepath.Glob(filepath.Join(root, string(w), "*", string(w)+"-*"))
			if len(left) > 0 {
				t.Errorf("%s: fill DBs left behind: %v", w, left)
			}
		}
	}
}

// The block cache holds blocks: Pebble's memtable reservations do not eat
// it, so random reads find their index blocks there (a hit rate well above
// what data blocks alone would give) and the blocks cached fill a good
// part of CacheSize.
func TestReadRandomCacheHoldsBlocks(t *testing.T) {
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "db"), ctr.Plaintext, keyenv.MasterKeyConfig{Type: keyenv.KindPlaintext})
	cfg.Keys = 100_000
	cfg.CacheSize = 1 << 20
	db, err := Open(context.Background(), ReadRandom, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 5000 {
		if err := db.Read(); err != nil {
			t.Fatal(err)
		}
	}
	m := db.db.Metrics()
	// About 27 MB of data blocks against a 1 MiB cache: data blocks alone
	// would hit about 4% of the time; with the index blocks cached, about
	// half of all block lookups hit.
	hitRate := float64(m.BlockCache.Hits) / float64(m.BlockCache.Hits+m.BlockCache.Misses)
	if m.BlockCache.Size < cfg.CacheSize/2 || hitRate < 0.3 {
		t.Errorf("block cache holds %d bytes of %d, hit rate %.2f: it is not caching blocks", m.BlockCache.Size, cfg.CacheSize, hitRate)
	}
}

// TestCompareWithProgress checks the progress callback fires once per
// configuration and round, and that a cancelled context stops the rounds.
func TestCompareWithProgress(t *testing.T) {
	root := t.TempDir()
	keyPath := filepath.Join(root, "master.key")
	if err := os.WriteFile(keyPath, []byte(strings.Repeat("22", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk := keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: keyPath}
	for _, w := range []Workload{FillSeq, ReadRandom} {
		var cfgs []Config
		for _, m := range []ctr.Method{ctr.Plaintext, ctr.AES128CTR} {
			c := DefaultConfig(filepath.Join(root, string(w), m.String()), m, mk)
			c.Keys = 1000
			cfgs = append(cfgs, c)
		}
		calls := 0
		if _, err := CompareWithProgress(context.Background(), w, cfgs, 2, 100, func(int) { calls++ }); err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if calls != 2*len(cfgs) {
			t.Errorf("%s: progress called %d times, want %d", w, calls, 2*len(cfgs))
		}

		ctx, cancel := context.WithCancel(context.Background())
		calls = 0
		_, err := CompareWithProgress(ctx, w, cfgs, 3, 100, func(int) {
			if calls++; calls == len(cfgs) {
				cancel() // at the end of the first round
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled during the first round: err = %v, want context.Canceled", w, err)
		}
		if calls != len(cfgs) {
			t.Errorf("%s: cancelled in round 1: %d progress calls, want the first round's %d", w, calls, len(cfgs))
		}
	}
}
