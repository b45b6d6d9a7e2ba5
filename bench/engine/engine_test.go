package engine

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestParseWorkload(t *testing.T) {
	for _, w := range Workloads {
		if got, err := ParseWorkload(string(w)); err != nil || got != w {
			t.Errorf("ParseWorkload(%q) = %q, %v", w, got, err)
		}
		if w.About() == string(w) {
			t.Errorf("%s has no description", w)
		}
	}
	for _, bad := range []string{"", "fill", "FillSeq"} {
		if _, err := ParseWorkload(bad); !errors.Is(err, ErrUnknownWorkload) || !strings.Contains(err.Error(), "readrandom") {
			t.Errorf("ParseWorkload(%q): %v", bad, err)
		}
	}
}

// TestCounts counts from several goroutines, as an engine's flushes and
// reads do, and checks the snapshot and the difference of two.
func TestCounts(t *testing.T) {
	var c Counts
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Read(4096)
				c.Write(100)
			}
		})
	}
	wg.Wait()
	before := c.Snapshot()
	if before != (IO{ReadCalls: 8000, ReadBytes: 8000 * 4096, WriteCalls: 8000, WriteBytes: 8000 * 100}) {
		t.Errorf("snapshot %+v", before)
	}
	c.Read(10)
	c.Write(20)
	c.Write(30)
	d := c.Snapshot().Sub(before)
	if d != (IO{ReadCalls: 1, ReadBytes: 10, WriteCalls: 2, WriteBytes: 50}) {
		t.Errorf("difference %+v", d)
	}
	if sum := before.Add(d); sum != c.Snapshot() {
		t.Errorf("%+v + %+v = %+v, want %+v", before, d, sum, c.Snapshot())
	}
}
