package main

import (
	"strings"
	"testing"

	"github.com/atrest/atrest/internal/bytesize"
)

// TestRateUnits checks that --rate reads sizes as internal/bytesize does,
// as encbench's --sizes does: KB is 1000 bytes and KiB 1024, and a bare K
// is refused.
func TestRateUnits(t *testing.T) {
	for _, size := range []string{"1", "500KB", "500KiB", "500kb", "2MB", "2MiB", "1.5MiB", "1GB", "1GiB", "3TB", "3TiB", "4096B"} {
		want, err := bytesize.Parse(size)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []string{size, size + "/s"} {
			if got, err := parseRate(in); err != nil || got != want {
				t.Errorf("parseRate(%q) = %d, %v; bytesize.Parse(%q) = %d", in, got, err, size, want)
			}
		}
	}
	if got, _ := parseRate("16KB/s"); got != 16_000 {
		t.Errorf("16KB/s = %d bytes per second, want 16000", got)
	}
	if got, _ := parseRate("16KiB/s"); got != 16_384 {
		t.Errorf("16KiB/s = %d bytes per second, want 16384", got)
	}
	for _, in := range []string{"4K/s", "50M", "1G/s", "2T"} {
		_, err := parseRate(in)
		if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "KB = 1000 bytes, KiB = 1024") {
			t.Errorf("parseRate(%q): %v, want the ambiguous unit refused and the units named", in, err)
		}
	}
	if got := formatBytes(12_900_000); got != bytesize.FormatRounded(12_900_000) || got != "12.3 MiB" {
		t.Errorf("formatBytes(12900000) = %q", got)
	}
}
