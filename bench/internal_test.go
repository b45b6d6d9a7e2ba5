package bench

import (
	"math/big"
	"slices"
	"testing"
	"time"
)

func TestThreadCounts(t *testing.T) {
	for _, tc := range []struct {
		limit int
		want  []int
	}{
		{1, []int{1}}, {2, []int{1, 2}}, {3, []int{1, 2, 3}}, {4, []int{1, 2, 4}}, {6, []int{1, 2, 4, 6}}, {8, []int{1, 2, 4, 8}},
	} {
		if got := threadCounts(tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("threadCounts(%d) = %v, want %v", tc.limit, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	sorted := []float64{10, 20, 30, 40, 50}
	for _, tc := range []struct{ q, want float64 }{
		{0, 10}, {0.5, 30}, {1, 50}, {0.25, 20}, {0.125, 15}, {0.99, 49.6},
	} {
		if got := quantile(sorted, tc.q); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 || quantile([]float64{7}, 0.99) != 7 {
		t.Error("quantile of an empty or single sample")
	}
}

// TestAddIV checks the baseline's counter arithmetic against big.Int,
// including carries through every byte and the wrap at 2^128.
func TestAddIV(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	ivs := [][]byte{
		make([]byte, 16),
		{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	}
	for _, iv := range ivs {
		for _, n := range []uint64{0, 1, 2, 255, 256, 1<<32 - 1, 1 << 40, 1<<64 - 1} {
			got := make([]byte, 16)
			addIV(got, iv, n)
			sum := new(big.Int).Add(new(big.Int).SetBytes(iv), new(big.Int).SetUint64(n))
			want := sum.Mod(sum, mod).FillBytes(make([]byte, 16))
			if !slices.Equal(got, want) {
				t.Errorf("addIV(%x, %d) = %x, want %x", iv, n, got, want)
			}
		}
	}
}

func TestMeasure(t *testing.T) {
	calls := 0
	ops, d := measure(5*time.Millisecond, func() { calls++ })
	if ops != calls || ops < 1 || d < 5*time.Millisecond {
		t.Errorf("measure: %d ops for %d calls in %v", ops, calls, d)
	}
	if o := timerOverhead(); o < 0 || o > float64(time.Millisecond) {
		t.Errorf("timer overhead %v ns", o)
	}
}
