package bytesize_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/atrest/atrest/internal/bytesize"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		// Plain numbers are bytes.
		{"0", 0},
		{"1", 1},
		{"4096", 4096},
		{" 64 ", 64},
		{"512B", 512},
		{"512 b", 512},
		// KB and its kin are powers of 1000, KiB and its kin of 1024.
		{"1KB", 1000},
		{"1KiB", 1024},
		{"16KB", 16_000},
		{"16KiB", 16 << 10},
		{"500kb", 500_000},
		{"4kib", 4096},
		{"2 MB", 2_000_000},
		{"2MiB", 2 << 20},
		{"1GB", 1_000_000_000},
		{"1GiB", 1 << 30},
		{"3TB", 3_000_000_000_000},
		{"10TiB", 10 << 40},
		// Fractions, and a fraction of a byte dropped.
		{"1.5MiB", 3 << 19},
		{"1.5KB", 1500},
		{"0.1KiB", 102},
		{"0.5", 0},
		{"1.", 1},
		// The largest count there is.
		{"9223372036854775807", math.MaxInt64},
		{"8388607TiB", 8388607 << 40},
	} {
		got, err := bytesize.Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in, why string
	}{
		{"", "no number"},
		{"KiB", "no number"},
		{"-4", "no number"},
		{"+4", "no number"},
		{"1.2.3MB", "bad number"},
		{".", "bad number"},
		{"4Q", `unknown unit "Q"`},
		{"1e3", `unknown unit "e3"`},
		{"4 KiB/s", `unknown unit "KiB/s"`},
		{"1EiB", `unknown unit "EiB"`},
		{"4,096", `unknown unit ",096"`},
		// A bare K, M, G or T: 1000 or 1024?
		{"4K", `ambiguous unit "K": write KB for powers of 1000 or KiB for powers of 1024`},
		{"50m", `ambiguous unit "m": write MB`},
		{"1G", `ambiguous unit "G"`},
		{"1 t", `ambiguous unit "t"`},
		{"9223372036854775808", "too large"},
		{"99999999999999999999", "too large"},
		{"8388608TiB", "too large"},
		{"100000000TiB", "too large"},
		{"9223372036854775808.0", "too large"},
	} {
		got, err := bytesize.Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Parse(%q) = %d, %v; want an error saying %q", tc.in, got, err, tc.why)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {16, "16 B"}, {1000, "1000 B"}, {1024, "1 KiB"}, {1536, "1536 B"}, {4 << 10, "4 KiB"},
		{1 << 20, "1 MiB"}, {3 << 20, "3 MiB"}, {1<<20 + 1024, "1025 KiB"}, {1 << 30, "1 GiB"}, {3 << 30, "3 GiB"},
		{5 << 40, "5120 GiB"},
	} {
		if got := bytesize.Format(tc.n); got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFormatRounded(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {12_900_000, "12.3 MiB"},
		{1 << 30, "1.0 GiB"}, {3 << 40, "3.0 TiB"}, {2 << 50, "2.0 PiB"}, {math.MaxInt64, "8.0 EiB"},
	} {
		if got := bytesize.FormatRounded(tc.n); got != tc.want {
			t.Errorf("FormatRounded(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// What is parsed formats back to the same count.
func TestParseFormat(t *testing.T) {
	for _, n := range []int64{1, 64, 1000, 4096, 1536, 1 << 20, 64 << 20, 3 << 30} {
		if got, err := bytesize.Parse(bytesize.Format(n)); err != nil || got != n {
			t.Errorf("Parse(Format(%d) = %q) = %d, %v", n, bytesize.Format(n), got, err)
		}
	}
}

func ExampleParse() {
	for _, s := range []string{"500KB", "500KiB", "1.5 MiB", "4K"} {
		n, err := bytesize.Parse(s)
		fmt.Println(s, n, err)
	}
	// Output:
	// 500KB 500000 <nil>
	// 500KiB 512000 <nil>
	// 1.5 MiB 1572864 <nil>
	// 4K 0 ambiguous unit "K": write KB for powers of 1000 or KiB for powers of 1024
}
