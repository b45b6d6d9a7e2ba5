package bench_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/ctr"
)

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"64", []int{64}},
		{"1", []int{1}},
		{"4KiB,64,1MiB", []int{64, 4096, 1 << 20}},
		// KB is 1000 bytes, KiB 1024 (KB read 1024 here before
		// internal/bytesize, and 1000 in encctl's --rate).
		{"4KiB, 16KB ,2MiB", []int{4096, 16000, 2 << 20}},
		{"16KB,16KiB,16kib", []int{16000, 16384}},
		{"4096,4KiB,4kib", []int{4096}},
		{"512B", []int{512}},
		{"1.5KiB", []int{1536}},
		{"64MiB", []int{64 << 20}},
		{"64MB", []int{64_000_000}},
	} {
		got, err := bench.ParseSizes(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSizes(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "0", "-4", "4Q", "K", "1.5K", "65M", "1G", "4K,,8K", "99999999999",
		"4K", "1M", "65MiB", "68MB", "1GiB", "0.5"} {
		_, err := bench.ParseSizes(in)
		if !errors.Is(err, bench.ErrSize) {
			t.Errorf("ParseSizes(%q): err = %v, want ErrSize", in, err)
		} else if !strings.Contains(err.Error(), "valid:") {
			t.Errorf("ParseSizes(%q): error %q does not say what is valid", in, err)
		}
	}
	// A bare K is refused, saying what to write instead.
	if _, err := bench.ParseSizes("64,4K"); err == nil || !strings.Contains(err.Error(), "KiB") || !strings.Contains(err.Error(), "KB") {
		t.Errorf(`ParseSizes("64,4K"): %v, want an error naming KiB and KB`, err)
	}
}

func TestParseMethods(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []ctr.Method
	}{
		{"all", ctr.Methods},
		{"sm4-ctr", []ctr.Method{ctr.SM4CTR}},
		{"sm4-ctr, aes128-ctr,sm4-ctr", []ctr.Method{ctr.AES128CTR, ctr.SM4CTR}},
		{"plaintext,aes256-ctr,aes192-ctr", []ctr.Method{ctr.Plaintext, ctr.AES192CTR, ctr.AES256CTR}},
	} {
		got, err := bench.ParseMethods(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseMethods(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "aes", "aes128-ctr,rot13", "AES128"} {
		_, err := bench.ParseMethods(in)
		if !errors.Is(err, ctr.ErrUnknownMethod) {
			t.Errorf("ParseMethods(%q): err = %v, want ctr.ErrUnknownMethod", in, err)
			continue
		}
		for _, m := range ctr.Methods {
			if !strings.Contains(err.Error(), m.String()) {
				t.Errorf("ParseMethods(%q): error %q does not list %v", in, err, m)
			}
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{16, "16 B"}, {1000, "1000 B"}, {1024, "1 KiB"}, {1536, "1536 B"}, {4 << 10, "4 KiB"}, {1 << 20, "1 MiB"}, {3 << 20, "3 MiB"}, {1<<20 + 1024, "1025 KiB"}, {1 << 30, "1 GiB"}, {3 << 30, "3 GiB"},
	} {
		if got := bench.FormatSize(tc.n); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func ExampleParseSizes() {
	sizes, err := bench.ParseSizes("1MiB,64,4KiB")
	fmt.Println(sizes, err)
	_, err = bench.ParseSizes("4Q")
	fmt.Println(errors.Is(err, bench.ErrSize))
	// Output:
	// [64 4096 1048576] <nil>
	// true
}
