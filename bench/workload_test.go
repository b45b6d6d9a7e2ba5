package bench_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/atrest/atrest/bench"
)

// reversed is a reversed copy of s.
func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestParseWorkloads(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"all", "all", bench.Workloads},
		{"all padded", "  all\t", bench.Workloads},
		{"single", "stream", []string{bench.Stream}},
		{"single pebble", "pebble-readrandom", []string{bench.PebbleReadRandom}},
		{"repeats dropped", "parallel,parallel,stream,parallel", []string{bench.Stream, bench.Parallel}},
		{"order normalised", "file-read,random-read,stream", []string{bench.Stream, bench.RandomRead, bench.FileRead}},
		{"whitespace trimmed", " file-write , stream\t,\npebble-fillseq ", []string{bench.Stream, bench.FileWrite, bench.PebbleFillSeq}},
		{"every one reversed", strings.Join(reversed(bench.Workloads), ","), bench.Workloads},
		{"every engine's", "leveldb-readrandom,pebblev1-fillseq,pebble-fillrandom", []string{bench.PebbleFillRandom, "pebblev1-fillseq", "leveldb-readrandom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bench.ParseWorkloads(tc.in)
			if err != nil {
				t.Fatalf("ParseWorkloads(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParseWorkloads(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	// "all" must give a copy: changing it must not change bench.Workloads.
	all, err := bench.ParseWorkloads("all")
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(bench.Workloads)
	all[0] = "changed"
	if !slices.Equal(bench.Workloads, before) {
		t.Errorf("ParseWorkloads(\"all\") returned bench.Workloads itself")
	}
}

func TestParseWorkloadsErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"nope",
		"stream,nope",
		"Stream",
		"stream,",
		"stream,,parallel",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := bench.ParseWorkloads(in)
			if err == nil {
				t.Fatalf("ParseWorkloads(%q) = %q, want an error", in, got)
			}
			if !errors.Is(err, bench.ErrUnknownWorkload) {
				t.Errorf("ParseWorkloads(%q): %v is not ErrUnknownWorkload", in, err)
			}
			if got != nil {
				t.Errorf("ParseWorkloads(%q) returned %q with its error", in, got)
			}
			msg := err.Error()
			for _, w := range bench.Workloads {
				if !strings.Contains(msg, w) {
					t.Errorf("ParseWorkloads(%q): message %q does not list %q", in, msg, w)
				}
			}
			if !strings.Contains(msg, "all") {
				t.Errorf("ParseWorkloads(%q): message %q does not mention all", in, msg)
			}
		})
	}
}
