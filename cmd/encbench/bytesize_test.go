package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/internal/bytesize"
)

// TestSizeUnits checks that --sizes reads sizes as internal/bytesize does,
// as encctl's --rate does: KB is 1000 bytes and KiB 1024, and a bare K is
// refused.
func TestSizeUnits(t *testing.T) {
	list := []string{"64", "16KB", "16KiB", "1MB", "1MiB", "1.5KiB", "512B"}
	var want []int
	for _, s := range list {
		n, err := bytesize.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, int(n))
	}
	slices.Sort(want)
	arg := strings.Join(list, ",")
	cfg, _, err := parse(t, "--sizes", arg)
	if err != nil || !slices.Equal(cfg.Sizes, want) {
		t.Fatalf("--sizes %s: %v, %v; want %v", arg, cfg.Sizes, err, want)
	}
	if !slices.Contains(cfg.Sizes, 16_000) || !slices.Contains(cfg.Sizes, 16_384) {
		t.Errorf("--sizes %s: %v lacks 16000 (16KB) or 16384 (16KiB)", arg, cfg.Sizes)
	}
	if _, _, err := parse(t, "--sizes", "4K"); err == nil {
		t.Error("--sizes 4K: accepted, want the ambiguous unit refused")
	}
}
